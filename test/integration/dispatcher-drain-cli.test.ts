import type { ChildProcess } from 'node:child_process';
import http, { type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { alive, getReply as get, refused, startCli, waitFor, type Cli, type Reply } from './dispatcher-helpers.js';

/**
 * SIGTERM to `dispatchlab dispatcher` as a real process, alone and with `--workers 2` (every
 * worker drains), and to `dispatchlab up`: the admin /healthz turns 503 at once; the proxy port keeps accepting and
 * answering, each answer with `Connection: close` (a kept-alive connection is answered, then
 * closed); SIGINT then ends the drain: the port refuses, the request held in flight is still
 * answered, and every process exits 0. test/fixtures/dispatcher-drain.yaml drains for five
 * minutes, so no check races the drain's end; every wait is bounded, none is timed.
 */






let backend: TestServer;
const held: ServerResponse[] = [];
const started: ChildProcess[] = [];
const startCommand = (args: readonly string[], ready: RegExp): Promise<Cli> => startCli(args, ready, 'drain-test-token', started);

beforeAll(async () => {
  backend = await startTestServer((req, res) => {
    if (req.url === '/hold') held.push(res);
    else res.end('served');
  });
});

afterAll(async () => {
  for (const res of held.splice(0)) res.end();
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await backend.close();
});



/**
 * SIGTERM, then what the drain must show: /healthz 503 at once; a kept-alive connection's next
 * answer says close (a worker drains once the primary's word reaches it: ask until it does) and
 * the connection closes; new connections are accepted and answered with close by every worker.
 * Every answer is a 200 (with `body`, when given: a replica's answer carries its timings).
 */
async function drains(cli: Cli, agent: http.Agent, workers: number, body?: string): Promise<void> {
  const served = (a: Reply): boolean => a.status === 200 && (body === undefined || a.body === body);
  cli.child.kill('SIGTERM');
  await waitFor('the shutdown to start', () => /SIGTERM, shutting down/.test(cli.stderr()));
  const health = await fetch(`${cli.adminUrl}/healthz`);
  expect(health.status).toBe(503);
  expect(await health.json()).toEqual({ ok: false, draining: true });

  const answers: Reply[] = [];
  await waitFor('a kept-alive connection answered with close', async () => {
    answers.push(await get(`${cli.url}/`, agent));
    return answers[answers.length - 1].connection === 'close';
  });
  expect(answers.every((a) => served(a) && a.reusedSocket)).toBe(true);
  await answers[answers.length - 1].socketClosed;
  const fresh: Reply[] = [];
  await waitFor('every worker answering with close', async () => {
    fresh.push(await get(`${cli.url}/`, false));
    return fresh.slice(-2 * workers).filter((a) => a.connection === 'close').length === 2 * workers;
  });
  expect(fresh.every(served)).toBe(true);
  expect((await fetch(`${cli.adminUrl}/healthz`)).status).toBe(503);
}

describe.each([1, 2])('dispatchlab dispatcher --workers %i: SIGTERM drains', (workers) => {
  it('accepts and answers with Connection: close while /healthz says 503; SIGINT closes; in-flight finishes; exit 0', { timeout: 120_000 }, async () => {
    const cli = await startCommand(
      ['dispatcher', '--scenario', 'test/fixtures/dispatcher-drain.yaml', '--backends', `b1=${backend.url}`, '--port', '0', '--admin-port', '0', '--workers', String(workers)],
      /^backend\s+b1 /m,
    );
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    expect(await get(`${cli.url}/`, agent)).toMatchObject({ status: 200, connection: 'keep-alive' });
    const inFlight = get(`${cli.url}/hold`, false);
    await waitFor('the request held', () => held.length === 1);

    await drains(cli, agent, workers, 'served');

    cli.child.kill('SIGINT');
    await waitFor('the proxy port to refuse', () => refused(cli.url));
    for (const res of held.splice(0)) res.end('finished');
    expect(await inFlight).toMatchObject({ status: 200, body: 'finished' });
    expect(await cli.exited).toBe(0);
    for (const pid of cli.pids) await waitFor(`process ${pid} to exit`, () => !alive(pid));
    agent.destroy();
  });
});

describe('dispatchlab up: SIGTERM drains the dispatcher while the hosts serve', () => {
  it('answers from the replica with Connection: close while /healthz says 503; SIGINT closes; exit 0', { timeout: 120_000 }, async () => {
    const cli = await startCommand(['up', '--scenario', 'test/fixtures/dispatcher-drain.yaml', '--port', '0', '--admin-port', '0'], /^replica\s+r1 /m);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    expect(await get(`${cli.url}/`, agent)).toMatchObject({ status: 200, connection: 'keep-alive' });

    await drains(cli, agent, 1);

    cli.child.kill('SIGINT');
    await waitFor('the proxy port to refuse', () => refused(cli.url));
    expect(await cli.exited).toBe(0);
    agent.destroy();
  });
});
