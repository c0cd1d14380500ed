import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { startCli, waitFor } from './dispatcher-helpers.js';

/**
 * The proxy port's listen backlog (dispatcher.client.backlog, `--backlog`), with the dispatcher as
 * a real process. A burst of connections reaches a dispatcher that cannot accept them yet (its
 * process stopped with SIGSTOP: the limit of a loop too busy to accept, which is what Node 20,
 * accepting one connection per turn of its loop, is under load): the kernel completes them into
 * the accept queue up to the backlog and drops the handshakes of the rest, which their clients
 * only retry a second or more later. With the default backlog the whole burst, more than Node's
 * own default of 511, waits in the queue and is answered once the dispatcher runs again; with
 * `--backlog` the queue holds that many and no more. The queue is read from /proc/net/tcp (a
 * listening socket's rx_queue is its accept queue), so nothing here depends on timing: every wait
 * is bounded and a busy machine only makes it longer.
 */

const TOKEN = 'backlog-test-token';
/** More connections than Node's default backlog (511) lets the kernel queue. */
const BURST = 600;
const started: ChildProcess[] = [];
let backend: TestServer;

beforeAll(async () => {
  backend = await startTestServer((_req, res) => res.end('ok'));
});

afterAll(async () => {
  for (const child of started) {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
  await backend.close();
});

/** The accept queue of the socket listening on 127.0.0.1:port now (/proc/net/tcp, state 0A = LISTEN). */
function acceptQueue(port: number): number {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] === local && fields[3] === '0A') return parseInt(fields[4].split(':')[1], 16);
  }
  throw new Error(`nothing listens on 127.0.0.1:${port}`);
}

/** A connection that sends one GET at once and resolves with the status line of its answer. */
function oneRequest(port: number, sockets: net.Socket[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: burst\r\nConnection: close\r\n\r\n'));
    sockets.push(socket);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.once('close', () => resolve(text.split('\r\n')[0]));
    socket.once('error', reject);
  });
}

async function startDispatcher(extra: readonly string[]) {
  const args = ['dispatcher', '--scenario', 'test/fixtures/dispatcher-two-replicas.yaml', '--backends', `a=${backend.url}`, '--port', '0', '--admin-port', '0', ...extra];
  const cli = await startCli(args, /^backend\s+a /m, TOKEN, started);
  return { cli, port: Number(new URL(cli.url).port) };
}

describe('the proxy port\'s listen backlog', () => {
  // With --workers the primary holds the listening socket and hands connections to the workers (node:cluster): stopping it stops the accepting.
  it.each([[[]], [['--workers', '2']]])('queues a burst of %j connections beyond 511 while the dispatcher cannot accept, and answers every one after', async (extra) => {
    const { cli, port } = await startDispatcher(extra);
    const sockets: net.Socket[] = [];
    cli.child.kill('SIGSTOP');
    let answers: Promise<string>[];
    try {
      answers = Array.from({ length: BURST }, () => oneRequest(port, sockets));
      await waitFor(`${BURST} connections in the accept queue`, () => acceptQueue(port) === BURST);
    } finally {
      cli.child.kill('SIGCONT');
    }
    const statuses = await Promise.all(answers);
    expect(statuses.filter((s) => s === 'HTTP/1.1 200 OK')).toHaveLength(BURST);
    cli.child.kill('SIGTERM');
    await cli.exited;
  }, 90_000);

  it('holds no more than --backlog: the kernel drops the handshakes beyond it', async () => {
    const backlog = 100;
    const { cli, port } = await startDispatcher(['--backlog', String(backlog)]);
    const sockets: net.Socket[] = [];
    cli.child.kill('SIGSTOP');
    try {
      for (let i = 0; i < BURST; i++) oneRequest(port, sockets).catch(() => undefined);
      // Linux admits one past the backlog (the queue is full when it is longer than the backlog).
      await waitFor('a full accept queue', () => acceptQueue(port) === backlog + 1);
      // The burst is all sent by now (its connects were issued in one turn): the rest wait for a SYN retransmit, not in the queue.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(acceptQueue(port)).toBe(backlog + 1);
    } finally {
      cli.child.kill('SIGCONT');
      for (const s of sockets) s.destroy();
    }
    cli.child.kill('SIGTERM');
    await cli.exited;
  }, 90_000);
});
