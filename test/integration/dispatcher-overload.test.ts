import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer } from '../../core/server-lifecycle.js';
import type { RunningDispatcher } from '../../dispatcher/dispatcher-service.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { oneBackendDispatcher, until } from './dispatcher-helpers.js';

// Issue 17.7 on real sockets: shutdown that finishes in-flight work and ends keep-alive
// connections, a cap on client connections, and deadlines for slow clients.

const sleep = (ms: number) => new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), ms));

describe('graceful close', () => {
  it('finishes the request in flight, then closes its kept-alive connection, without waiting for the grace', async () => {
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    const server = http.createServer((_req, res) => {
      arrived();
      setTimeout(() => res.end('done'), 200);
    });
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const agent = new http.Agent({ keepAlive: true });
    const answer = new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/', agent }, resolve).on('error', reject);
    });
    await requestArrived;
    const closed = closeServer(server as never, 60_000).then(() => 'closed' as const);
    const res = await answer;
    const socketClosed = new Promise<void>((resolve) => res.socket.once('close', () => resolve()));
    expect(res.statusCode).toBe(200);
    res.resume();
    // The server ends the kept-alive connection once its response is done, not the client.
    await socketClosed;
    // The grace is a minute: closing well before it means nothing was left to cut.
    expect(await Promise.race([closed, sleep(20_000)])).toBe('closed');
    agent.destroy();
  });
});

describe('client limits', () => {
  let backend: TestServer;
  let dispatcher: RunningDispatcher;

  beforeAll(async () => {
    backend = await startTestServer((_req, res) => res.end('ok'));
    dispatcher = await oneBackendDispatcher(backend.url, { client: { maxConnections: 3, headersTimeoutMs: 300, requestTimeoutMs: 600 } });
  });
  afterAll(async () => {
    await dispatcher.close(0);
    await backend.close();
  });

  /** Open a socket, send `text`, and collect what comes back until the server closes it. */
  function open(text: string): { socket: net.Socket; reply: Promise<string> } {
    const { hostname, port } = new URL(dispatcher.url);
    const socket = net.connect(Number(port), hostname, () => socket.write(text));
    const reply = new Promise<string>((resolve) => {
      let data = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (data += chunk));
      socket.on('error', () => {});
      socket.on('close', () => resolve(data));
    });
    return { socket, reply };
  }

  it('a client that never finishes its headers gets 408 and is cut; the backend never hears of it', async () => {
    const slow = open('GET / HTTP/1.1\r\nHost: x\r\n');
    expect(await Promise.race([slow.reply, sleep(20_000)])).toMatch(/^HTTP\/1\.1 408 /);
    expect(dispatcher.balancer.backends()[0]).toMatchObject({ requests: 0, errors: 0, state: 'healthy' });
  });

  it('a client that never finishes its body gets cut at requestTimeoutMs, and it is not the backend\'s failure', async () => {
    const slow = open('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc');
    expect(await Promise.race([slow.reply, sleep(20_000)])).not.toBe('timeout');
    expect(dispatcher.balancer.backends()[0]).toMatchObject({ errors: 0, consecutiveFailures: 0, state: 'healthy' });
  });

  it('connections past maxConnections are closed at once while the others are served', async () => {
    const held = [open(''), open(''), open('')];
    await sleep(100);
    const extra = open('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(await Promise.race([extra.reply, sleep(20_000)])).toBe('');
    for (const h of held) h.socket.destroy();
    await Promise.all(held.map((h) => h.reply));
    const ok = open('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(await ok.reply).toMatch(/^HTTP\/1\.1 200 /);
  });
});

describe('close with requests not yet read', () => {
  it('answers a request already in the socket buffer when the close begins, instead of dropping its connection', async () => {
    const server = http.createServer((_req, res) => res.end('served'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const accepted = new Promise<void>((resolve) => server.once('connection', () => resolve()));
    const client = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    await accepted;
    let reply = '';
    client.setEncoding('utf8');
    client.on('data', (chunk: string) => (reply += chunk));
    client.on('error', () => {});
    const ended = new Promise<void>((resolve) => client.once('close', () => resolve()));
    // A first request and its answer leave the connection kept alive, and idle.
    client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => reply.endsWith('served'));
    reply = '';
    client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    // A loop running behind: the second request reaches the server's socket buffer, and the close
    // begins in this same turn, before the server has read it (the connection looks idle to Node).
    const busyUntil = performance.now() + 50;
    while (performance.now() < busyUntil);
    const closed = closeServer(server as never, 10_000);
    await ended;
    await closed;
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(reply).toMatch(/connection: close/i);
    expect(reply).toMatch(/served$/);
  });
});
