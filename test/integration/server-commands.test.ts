import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startHost, type RunningHost } from '../../backends/host-server.js';
import { loadScenario } from '../../core/scenario.js';
import { run } from '../../cli/main.js';
import { captureIo, type CapturedIo } from '../helpers/cli.js';
import { http } from '../helpers/http.js';
import { startTestServer } from '../helpers/test-server.js';

/**
 * The commands that run servers or send load, in process on real sockets: what they print, that
 * they serve, and that a stop (what SIGTERM does) closes them and ends with exit code 0. The same
 * commands as real processes of the built CLI: test/cli/smoke.test.ts.
 */

const HOSTS = 'test/fixtures/backends-host.yaml';
const TWO = 'test/fixtures/dispatcher-two-replicas.yaml';
const running: CapturedIo[] = [];
let host: RunningHost | undefined;

afterAll(async () => {
  for (const io of running) io.stop();
  await host?.close(0);
});

/** Start a long-running command; resolves once it has started (run returns 0) with its io. */
async function start(...args: string[]): Promise<CapturedIo> {
  const io = captureIo();
  running.push(io);
  expect(await run(args, io)).toBe(0);
  return io;
}

async function stopped(io: CapturedIo): Promise<number> {
  io.stop();
  return io.exited();
}

function field(out: string, label: string): string {
  const match = new RegExp(`^${label}\\s+(\\S+)`, 'm').exec(out);
  if (!match) throw new Error(`no "${label}" line in:\n${out}`);
  return match[1];
}

describe('server commands in process', () => {
  it('host: one line per replica and the metrics URL; serves them; a stop closes them, exit 0', async () => {
    const io = await start('host', '--scenario', HOSTS, '--host', 'host-a', '--base-port', '0');
    const lines = io.stdoutText().trim().split('\n');
    expect(lines.at(-1)).toMatch(/^host-a: metrics at http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const replicas = lines.slice(0, -1).map((l) => l.split(' '));
    expect(replicas.map(([vm]) => vm)).toEqual(['web-1', 'web-2']);
    for (const [, url] of replicas) expect((await http(`${url}/healthz`)).status).toBe(200);
    expect(await stopped(io)).toBe(0);
    expect(io.stderrText()).toBe('host-a: SIGTERM, shutting down\n');
    await expect(http(`${replicas[0][1]}/healthz`)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('dispatcher: prints its URLs and the backends, proxies to them, exit 0 on a stop', async () => {
    host = await startHost({ scenario: loadScenario(TWO), hostName: 'h1', port: 'auto' });
    const io = await start('dispatcher', '--scenario', TWO, '--backends', `r1=${host.replicas[0].url}`, '--policy', 'll', '--port', '0', '--admin-port', '0', '--admin-token-file', 'test/fixtures/admin-token');
    const out = io.stdoutText();
    expect(out).toMatch(/^dispatcher http:\/\/127\.0\.0\.1:\d+ \(policy ll\)$/m);
    expect(out).toMatch(/^admin token: as configured$/m);
    expect(out).toMatch(/^backend {4}r1 http:\/\/127\.0\.0\.1:\d+$/m);
    const answer = await http(`${field(out, 'dispatcher')}/page`);
    expect(answer.status).toBe(200);
    expect(answer.headers['x-served-by']).toBe('r1');
    expect(await stopped(io)).toBe(0);
    // A token file the user gave is theirs: never removed.
    expect(readFileSync('test/fixtures/admin-token', 'utf8').trim().length).toBeGreaterThanOrEqual(8);
  });

  it('up: every host and the dispatcher; a generated admin token; exit 0 on a stop', async () => {
    const saved = process.env.DISPATCHLAB_ADMIN_TOKEN;
    delete process.env.DISPATCHLAB_ADMIN_TOKEN;
    let io: CapturedIo;
    try {
      io = await start('up', '--scenario', TWO, '--port', '0', '--admin-port', '0');
    } finally {
      if (saved !== undefined) process.env.DISPATCHLAB_ADMIN_TOKEN = saved;
    }
    const out = io.stdoutText();
    expect(out).toMatch(/^scenario {3}dispatcher-two-replicas$/m);
    const tokenFile = /^admin token: in (\S+) \(generated, mode 0600/m.exec(out)?.[1];
    expect(tokenFile).toBeDefined();
    expect(statSync(tokenFile!).mode & 0o777).toBe(0o600);
    const token = readFileSync(tokenFile!, 'utf8').trim();
    expect(token).toMatch(/^\S{16,}$/);
    expect(out).not.toContain(token);
    expect(out).toMatch(/^replica {4}r1 http:\/\/127\.0\.0\.1:\d+ \(host h1\)$/m);
    expect(out).toMatch(/^replica {4}r2 http:\/\/127\.0\.0\.1:\d+ \(host h2\)$/m);
    const servedBy = new Set<unknown>();
    for (let i = 0; i < 4; i++) servedBy.add((await http(`${field(out, 'dispatcher')}/page`)).headers['x-served-by']);
    expect(servedBy).toEqual(new Set(['r1', 'r2']));
    expect(await stopped(io)).toBe(0);
    // The directory created for the generated token goes once the stop is done.
    expect(existsSync(dirname(tokenFile!))).toBe(false);
  });

  it('load: one line per round, each request sent once, then done (exit 0) when --duration is spent', async () => {
    let received = 0;
    const target = await startTestServer((_req, res) => {
      received++;
      res.end('ok');
    });
    try {
      const io = captureIo();
      expect(await run(['load', '--scenario', 'scenarios/default.yaml', '--target', target.url, '--rate', '100', '--duration', '1s', '--round', '500ms'], io)).toBe(0);
      const lines = io.stdoutText().trim().split('\n');
      expect(lines[0]).toBe(`load: 100 requests/s to ${target.url}/, rounds of 500ms`);
      const rounds = lines.slice(1).map((l) => /^load: round (\d+): (\d+) requests, 0 errors, p50 [\d.]+ms p99 [\d.]+ms \(200:\d+\) over 1 dispatcher\(s\)$/.exec(l));
      expect(rounds.map((m) => m?.[1])).toEqual(['1', '2']);
      expect(received).toBe(rounds.reduce((sum, m) => sum + Number(m![2]), 0));
    } finally {
      await target.close();
    }
  });
});
