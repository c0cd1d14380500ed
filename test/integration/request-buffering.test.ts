import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PROXY_ENGINES, ScenarioSchema } from '../../core/scenario.js';
import type { AttemptOutcome } from '../../dispatcher/balancer/types.js';
import { startDispatcher, type RunningDispatcher } from '../../dispatcher/dispatcher-service.js';
import { SMALL_BODY_BYTES } from '../../dispatcher/request-body.js';
import { digestBody, type BodyDigest } from '../helpers/read-body.js';

// Request buffering before routing (dispatcher/request-body.ts, issue 17.1) on real sockets, both
// engines: every body is read until it ends or fills the 64 KiB buffer before a backend is chosen,
// so a slow upload of any size never reaches one; a body past the buffer arrives whole and
// byte-exact (the head, then the rest streamed), chunked ones too.

const MIB = 1024 * 1024;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});


interface Setup {
  readonly dispatcher: RunningDispatcher;
  /** Connections the backend accepted: a request that never reached it opened none. */
  readonly connections: () => number;
  /** The bodies the backend read in full, in order. */
  readonly received: BodyDigest[];
  readonly outcomes: AttemptOutcome[];
}

/** A backend that reads each body whole and answers its SHA-256, behind a dispatcher. */
async function setup(engine: string, dispatcherSettings: Record<string, unknown> = {}): Promise<Setup> {
  const received: BodyDigest[] = [];
  let connections = 0;
  const backend = http.createServer((req, res) =>
    digestBody(req, (body) => {
      received.push(body);
      res.end(body.sha256);
    }),
  );
  backend.on('connection', () => connections++);
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  const outcomes: AttemptOutcome[] = [];
  const dispatcher = await startDispatcher({
    settings: ScenarioSchema.shape.dispatcher.parse({ engine, retries: 0, outlier: { consecutiveErrors: 1 }, ...dispatcherSettings }),
    backends: [{ id: 'a', url: `http://127.0.0.1:${(backend.address() as AddressInfo).port}` }],
    policy: 'round-robin',
    healthChecks: false,
    onAttemptEnded: (_info, _id, _attempt, outcome) => outcomes.push(outcome),
  });
  cleanups.push(async () => {
    await dispatcher.close(0);
    backend.closeAllConnections();
    await new Promise<void>((resolve) => backend.close(() => resolve()));
  });
  return { dispatcher, connections: () => connections, received, outcomes };
}

const sha256 = (body: Buffer): string => createHash('sha256').update(body).digest('hex');

/** POST `body` in `chunkBytes` pieces, each written once the last is flushed; chunked unless `declared`. */
function upload(url: string, body: Buffer, opts: { declared: boolean; chunkBytes: number }): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers = opts.declared ? { 'content-length': String(body.length) } : {};
    const req = http.request(`${url}/upload`, { method: 'POST', agent: false, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    let at = 0;
    const next = (): void => {
      if (at >= body.length) {
        req.end();
        return;
      }
      const chunk = body.subarray(at, at + opts.chunkBytes);
      at += chunk.length;
      req.write(chunk, () => setImmediate(next));
    };
    next();
  });
}

/** The dispatcher's metrics line for `code` on `backend`, or 0. */
async function requestsTotal(d: RunningDispatcher, backend: string, code: string): Promise<number> {
  const text = await (await fetch(`${d.adminUrl}/metrics`)).text();
  const match = new RegExp(`dispatchlab_requests_total\\{policy="round-robin",backend="${backend}",code="${code}"\\} (\\d+)`).exec(text);
  return match ? Number(match[1]) : 0;
}

/** Nothing was sent to, or held against, the backend. */
function expectUntouched(s: Setup): void {
  expect(s.connections()).toBe(0);
  expect(s.outcomes).toEqual([]);
  expect(s.dispatcher.balancer.stats().dispatched).toBe(0);
  expect(s.dispatcher.balancer.backends().map((b) => [b.state, b.errors, b.consecutiveFailures])).toEqual([['healthy', 0, 0]]);
}

describe.each(PROXY_ENGINES)('request buffering, the %s engine', (engine) => {
  it('a 1 MiB upload sent slowly is answered 408 by the dispatcher: no backend contacted, nothing charged', async () => {
    const s = await setup(engine, { client: { bodyTimeoutMs: 300 } });
    const answer = await new Promise<string>((resolve) => {
      const socket = net.connect(Number(new URL(s.dispatcher.url).port), '127.0.0.1', () =>
        socket.write(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${MIB}\r\n\r\n`),
      );
      const trickle = setInterval(() => socket.writable && socket.write('x'), 20);
      let data = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (data += chunk));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearInterval(trickle);
        resolve(data);
      });
      cleanups.push(() => void socket.destroy());
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toMatch(/connection: close/i);
    expectUntouched(s);
    expect(await requestsTotal(s.dispatcher, 'none', '408')).toBe(1);
  });

  it('a 1 MiB upload sent quickly arrives byte-exact: the buffered head, then the rest', async () => {
    const s = await setup(engine);
    const body = randomBytes(MIB);
    const answer = await upload(s.dispatcher.url, body, { declared: true, chunkBytes: 16 * 1024 });
    expect(answer).toEqual({ status: 200, text: sha256(body) });
    expect(s.received).toEqual([{ sha256: sha256(body), bytes: MIB }]);
  });

  it('chunked bodies arrive byte-exact, past the buffer (200 KiB) and within it (10 KiB)', async () => {
    const s = await setup(engine);
    for (const bytes of [200 * 1024, 10 * 1024]) {
      const body = randomBytes(bytes);
      const answer = await upload(s.dispatcher.url, body, { declared: false, chunkBytes: 7 * 1024 });
      expect(answer).toEqual({ status: 200, text: sha256(body) });
    }
    expect(s.received.map((r) => r.bytes)).toEqual([200 * 1024, 10 * 1024]);
    expect(s.outcomes).toEqual([
      { kind: 'response', status: 200 },
      { kind: 'response', status: 200 },
    ]);
  });

  it('a client that dies before its body fills the buffer sends nothing to a backend', async () => {
    const s = await setup(engine);
    const socket = net.connect(Number(new URL(s.dispatcher.url).port), '127.0.0.1');
    cleanups.push(() => void socket.destroy());
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${MIB}\r\n\r\n`);
    await new Promise<void>((resolve) => socket.write(Buffer.alloc(SMALL_BODY_BYTES / 2, 1), () => resolve()));
    // The dispatcher holds the half it has read; the client goes away.
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.destroy();
    let clientClosed = 0;
    for (let polls = 0; polls < 200 && clientClosed === 0; polls++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      clientClosed = await requestsTotal(s.dispatcher, 'none', '499');
    }
    expect(clientClosed).toBe(1);
    expectUntouched(s);
  });
});
