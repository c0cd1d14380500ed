import { createHash } from 'node:crypto';
import http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { AttemptOutcome } from '../../dispatcher/balancer/types.js';
import type { RunningDispatcher } from '../../dispatcher/dispatcher-service.js';
import { SMALL_BODY_BYTES } from '../../dispatcher/request-body.js';
import { createSocketEngine } from '../../dispatcher/socket-engine.js';
import { digestBody } from '../helpers/read-body.js';
import { startTestServer } from '../helpers/test-server.js';
import { oneBackendDispatcher, until } from './dispatcher-helpers.js';

// The socket engine's pool (dispatcher/socket-engine.ts) on real sockets: which backend
// connections it reuses, and which it must not.

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

interface Backend {
  readonly url: string;
  /** Connections the backend accepted so far. */
  readonly connections: Socket[];
}

async function startBackend(handler: http.RequestListener, keepAliveTimeoutMs = 65_000): Promise<Backend> {
  const server = http.createServer(handler);
  server.keepAliveTimeout = keepAliveTimeoutMs;
  const connections: Socket[] = [];
  server.on('connection', (socket: Socket) => connections.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections };
}

async function dispatcherTo(backend: Backend, settings: Record<string, unknown> = {}): Promise<RunningDispatcher> {
  const dispatcher = await oneBackendDispatcher(backend.url, { engine: 'socket', retries: 0, ...settings });
  cleanups.unshift(() => dispatcher.close(0));
  return dispatcher;
}

/** One request on a connection of its own; its status and body. */
function call(url: string, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(`${url}${path}`, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('the socket engine pool', () => {
  it('reuses one backend connection for requests one after another, whatever the body framing', async () => {
    const backend = await startBackend((req, res) => {
      if (req.url === '/chunked') {
        res.write('chunk');
        res.end('ed');
      } else {
        res.end('whole');
      }
    });
    const dispatcher = await dispatcherTo(backend);
    for (const path of ['/', '/chunked', '/', '/chunked', '/']) {
      expect(await call(dispatcher.url, path)).toEqual({ status: 200, body: path === '/' ? 'whole' : 'chunked' });
    }
    expect(backend.connections).toHaveLength(1);
  });

  it('streams an upload over the buffer, chunked or with its length, whole and in order, and reuses the connection after it', async () => {
    const received: { framing: string; sha: string; bytes: number }[] = [];
    const backend = await startBackend((req, res) =>
      digestBody(req, ({ sha256, bytes }) => {
        received.push({ framing: req.headers['transfer-encoding'] ?? `length ${req.headers['content-length']}`, sha: sha256, bytes });
        res.end('stored');
      }),
    );
    const dispatcher = await dispatcherTo(backend);
    const upload = Buffer.from(Array.from({ length: 4 * SMALL_BODY_BYTES + 17 }, (_, i) => (i * 7) % 251));
    const sha = createHash('sha256').update(upload).digest('hex');
    for (const headers of [{ 'transfer-encoding': 'chunked' }, { 'content-length': String(upload.length) }]) {
      const answer = await new Promise<string>((resolve, reject) => {
        const req = http.request(`${dispatcher.url}/upload`, { method: 'POST', agent: false, headers }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve(body));
        });
        req.on('error', reject);
        // In uneven pieces, so the dispatcher streams what it has not buffered.
        for (let at = 0; at < upload.length; at += 10_007) req.write(upload.subarray(at, at + 10_007));
        req.end();
      });
      expect(answer).toBe('stored');
    }
    expect(received).toEqual([
      { framing: 'chunked', sha, bytes: upload.length },
      { framing: `length ${upload.length}`, sha, bytes: upload.length },
    ]);
    expect(backend.connections).toHaveLength(1);
  });

  it('opens a new connection after a response with Connection: close, even while the backend has yet to close it', async () => {
    // A raw backend that says close but lingers: a request written on that connection would be lost.
    const connections: net.Socket[] = [];
    const server = net.createServer((socket) => {
      connections.push(socket);
      socket.once('data', () => {
        socket.write('HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 3\r\n\r\nbye');
        setTimeout(() => socket.end(), 2000);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      for (const socket of connections) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const dispatcher = await dispatcherTo({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections });
    for (let i = 0; i < 3; i++) expect(await call(dispatcher.url)).toEqual({ status: 200, body: 'bye' });
    expect(connections).toHaveLength(3);
  });

  it('never reuses the connection of a dropped attempt (the client left), and the next request is served', async () => {
    let held: http.ServerResponse | undefined;
    const backend = await startBackend((req, res) => {
      if (req.url === '/slow') held = res;
      else res.end('next');
    });
    const dispatcher = await dispatcherTo(backend);
    expect((await call(dispatcher.url)).body).toBe('next');
    const slow = http.get(`${dispatcher.url}/slow`, { agent: false });
    slow.on('error', () => undefined);
    await until(() => held !== undefined);
    slow.destroy();
    // The backend sees the connection it was answering on close.
    await until(() => backend.connections[0].destroyed);
    held?.end('too late');
    expect(await call(dispatcher.url)).toEqual({ status: 200, body: 'next' });
    expect(backend.connections).toHaveLength(2);
  });

  it('never reuses a connection after an early answer to an upload it stopped sending', async () => {
    const backend = await startBackend((req, res) => {
      // Answers before reading the upload, and leaves the connection open for the rest of it.
      if (req.method === 'POST') res.writeHead(413).end('too large');
      else res.end('next');
    });
    const dispatcher = await dispatcherTo(backend, { timeouts: { upstreamMs: 2000, totalMs: 5000 } });
    const answer = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${dispatcher.url}/upload`, { method: 'POST', agent: false, headers: { 'content-length': String(8 * SMALL_BODY_BYTES) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      // Past the buffer, then the client holds the rest: the dispatcher is streaming when the answer comes.
      req.write(Buffer.alloc(2 * SMALL_BODY_BYTES));
      cleanups.push(async () => void req.destroy());
    });
    expect(answer).toBe(413);
    expect(await call(dispatcher.url)).toEqual({ status: 200, body: 'next' });
    expect(backend.connections).toHaveLength(2);
  });

  it('a backend that closes an idle kept-alive connection costs no 502: the next request opens another', async () => {
    const backend = await startBackend((req, res) => {
      // The backend's own idle cut, shorter than anything it announced.
      res.on('finish', () => setTimeout(() => req.socket.end(), 20));
      res.end('fresh');
    });
    const dispatcher = await dispatcherTo(backend);
    for (let i = 0; i < 3; i++) {
      expect(await call(dispatcher.url)).toEqual({ status: 200, body: 'fresh' });
      await until(() => backend.connections.every((c) => c.destroyed));
      // Time for the FIN to reach the dispatcher's pool.
      await pause(50);
    }
    expect(backend.connections).toHaveLength(3);
  });

  it('does not keep a connection the backend will drop within the keep-alive margin (Keep-Alive: timeout=1)', async () => {
    const backend = await startBackend((_req, res) => res.end('short'), 1500);
    const dispatcher = await dispatcherTo(backend);
    for (let i = 0; i < 3; i++) expect(await call(dispatcher.url)).toEqual({ status: 200, body: 'short' });
    expect(backend.connections).toHaveLength(3);
  });

  it('closes a connection idle past the backend\'s stated time less the margin (Keep-Alive: timeout=3 gives 1 s), before the backend does', async () => {
    const backend = await startBackend((_req, res) => res.end('idle'), 3000);
    let endedByUs = false;
    const dispatcher = await dispatcherTo(backend);
    expect(await call(dispatcher.url)).toEqual({ status: 200, body: 'idle' });
    backend.connections[0].on('end', () => (endedByUs = true));
    // The backend would cut it at 3 s (without ending our side first); the engine's 1 s comes first.
    await until(() => backend.connections[0].destroyed);
    expect(endedByUs).toBe(true);
  });

  it('closes each idle connection after its own idle time: one that went idle later outlives the first', async () => {
    let held = false;
    const backend = await startBackend((req, res) => {
      if (req.url !== '/hold') {
        res.end('now');
        return;
      }
      held = true;
      setTimeout(() => res.end('held'), 900);
    }, 3000);
    const dispatcher = await dispatcherTo(backend, { timeouts: { upstreamMs: 5000, totalMs: 10_000 } });
    // Two connections: the held request's, then one for a request answered while it is held.
    const first = call(dispatcher.url, '/hold');
    await until(() => held);
    expect(await call(dispatcher.url, '/now')).toEqual({ status: 200, body: 'now' });
    expect(await first).toEqual({ status: 200, body: 'held' });
    expect(backend.connections).toHaveLength(2);
    const [heldOne, answeredFirst] = backend.connections;
    // Keep-Alive: timeout=3 gives 1 s each: the second went idle first, and goes first; the held
    // one, idle about 0.9 s later, is still open then, and closes in its turn.
    await until(() => answeredFirst.destroyed);
    expect(heldOne.destroyed).toBe(false);
    await until(() => heldOne.destroyed);
  });

  it('keeps a connection in use past its idle time while the backend takes longer to answer, and reuses it after', async () => {
    const backend = await startBackend((req, res) => {
      if (req.url === '/slow') setTimeout(() => res.end('slow'), 1500);
      else res.end('fast');
    }, 3000);
    const dispatcher = await dispatcherTo(backend, { timeouts: { upstreamMs: 5000, totalMs: 10_000 } });
    // The first answer's Keep-Alive: timeout=3 sets the engine's idle time to 1 s.
    expect(await call(dispatcher.url)).toEqual({ status: 200, body: 'fast' });
    expect(await call(dispatcher.url, '/slow')).toEqual({ status: 200, body: 'slow' });
    expect(await call(dispatcher.url)).toEqual({ status: 200, body: 'fast' });
    expect(backend.connections).toHaveLength(1);
  });

  it('a client that stops reading pauses the backend socket, and its body arrives whole once it reads again; the socket is reused', async () => {
    const big = Buffer.alloc(8 * 1024 * 1024, 'x');
    const backend = await startBackend((req, res) => res.end(req.url === '/big' ? big : 'small'));
    const dispatcher = await dispatcherTo(backend);
    const received = await new Promise<number>((resolve, reject) => {
      http
        .get(`${dispatcher.url}/big`, { agent: false }, (res) => {
          let bytes = 0;
          // Not read for a while: the dispatcher's writes to us fill up and it must wait for 'drain'.
          res.pause();
          setTimeout(() => {
            res.on('data', (chunk: Buffer) => (bytes += chunk.length));
            res.on('end', () => resolve(bytes));
            res.resume();
          }, 300);
        })
        .on('error', reject);
    });
    expect(received).toBe(big.length);
    expect(await call(dispatcher.url)).toEqual({ status: 200, body: 'small' });
    expect(backend.connections).toHaveLength(1);
  });

  it('with maxSocketsPerBackend, requests wait for a pooled socket in arrival order instead of opening more', async () => {
    const order: string[] = [];
    const backend = await startBackend((req, res) => {
      order.push(req.url ?? '');
      setTimeout(() => res.end(req.url), 10);
    });
    const engine = createSocketEngine({ maxSocketsPerBackend: 1 });
    const outcomes: AttemptOutcome[] = [];
    const target = new URL(backend.url);
    const arrived: string[] = [];
    const front = await startTestServer((req, res) => {
      arrived.push(req.url ?? '');
      // The dispatcher drops the client's hop-by-hop headers; here the client's `close` would end each backend connection.
      delete req.headers.connection;
      const handle = engine.forward(req, res, target, { onOutcome: (o) => outcomes.push(o) });
      res.on('close', () => handle.responseClosed());
    });
    cleanups.push(async () => {
      engine.close();
      await front.close();
    });
    const answers = await Promise.all(['/1', '/2', '/3', '/4'].map((path) => call(front.url, path)));
    expect(answers.map((a) => a.body)).toEqual(['/1', '/2', '/3', '/4']);
    expect(order).toEqual(arrived);
    expect(backend.connections).toHaveLength(1);
    expect(outcomes).toEqual(Array.from({ length: 4 }, () => ({ kind: 'response', status: 200 })));
  });
});
