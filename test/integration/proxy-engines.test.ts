import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CLIENT_FRONTS, PROXY_ENGINES, ScenarioSchema, type ClientFront, type ProxyEngineName } from '../../core/scenario.js';
import type { BackendId } from '../../core/types.js';
import type { AttemptOutcome } from '../../dispatcher/balancer/types.js';
import { PROXY_ENGINE_FACTORIES, startDispatcher, type RunningDispatcher } from '../../dispatcher/dispatcher-service.js';
import { SMALL_BODY_BYTES } from '../../dispatcher/request-body.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { until } from './dispatcher-helpers.js';

// The data path's promises, held by every engine (issues 12, 17.1, 17.6) on real sockets: client
// aborts reach the backend, hop-by-hop headers stay on their hop, timeouts are told from resets,
// an early 413 reaches the client, and a small body is the client's to send in time.

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

/**
 * Each engine behind each front it runs with: http-proxy always has node:http's (fast-front.ts);
 * undici runs behind both, the fast one serving the bodyless requests.
 */
type EngineFront = readonly [ProxyEngineName, ClientFront];
const ENGINE_FRONTS: readonly EngineFront[] = PROXY_ENGINES.flatMap((engine) => CLIENT_FRONTS.filter((front) => engine !== 'http-proxy' || front === 'node').map((front) => [engine, front] as const));

interface Setup {
  readonly backend: TestServer;
  readonly dispatcher: RunningDispatcher;
  /** Every attempt's outcome, as the Balancer heard it. */
  readonly outcomes: { backend: BackendId; outcome: AttemptOutcome }[];
}

async function setup([engine, front]: EngineFront, handler: http.RequestListener, dispatcher: Record<string, unknown> = {}): Promise<Setup> {
  const backend = await startTestServer(handler);
  const outcomes: Setup['outcomes'] = [];
  const running = await startDispatcher({
    settings: ScenarioSchema.shape.dispatcher.parse({ engine, client: { front }, retries: 0, ...dispatcher }),
    backends: [{ id: 'a', url: backend.url }],
    policy: 'round-robin',
    healthChecks: false,
    onAttemptEnded: (_info, id, _attempt, outcome) => outcomes.push({ backend: id, outcome }),
  });
  cleanups.push(async () => {
    await running.close(0);
    await backend.close();
  });
  return { backend, dispatcher: running, outcomes };
}

interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request on its own connection; the body is written in `chunks` (with `gapMs` between them). */
function request(url: string, opts: { method?: string; path?: string; headers?: http.OutgoingHttpHeaders; chunks?: Buffer[]; gapMs?: number } = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${opts.path ?? '/'}`, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    const chunks = [...(opts.chunks ?? [])];
    const next = (): void => {
      const chunk = chunks.shift();
      if (chunk === undefined) req.end();
      else req.write(chunk, () => setTimeout(next, opts.gapMs ?? 0));
    };
    next();
  });
}

/** The dispatcher's metrics line for `code` on `backend`, or undefined. */
async function requestsTotal(d: RunningDispatcher, backend: string, code: string): Promise<number | undefined> {
  const text = await (await fetch(`${d.adminUrl}/metrics`)).text();
  const match = new RegExp(`dispatchlab_requests_total\\{policy="round-robin",backend="${backend}",code="${code}"\\} (\\d+)`).exec(text);
  return match ? Number(match[1]) : undefined;
}

describe.each(ENGINE_FRONTS)('the %s engine, %s front', (engine, front) => {
  it('resolves backend names through the lookup it is given (the DNS cache), not the system resolver', async () => {
    const backend = await startTestServer((_req, res) => res.end('resolved'));
    const looked: string[] = [];
    const proxy = PROXY_ENGINE_FACTORIES[engine]({
      lookup: (hostname, options, callback) => {
        looked.push(hostname);
        if (options.all) (callback as unknown as (err: null, all: { address: string; family: number }[]) => void)(null, [{ address: '127.0.0.1', family: 4 }]);
        else callback(null, '127.0.0.1', 4);
      },
    });
    const target = new URL(`http://backend.dispatchlab.invalid:${new URL(backend.url).port}`);
    const front = await startTestServer((req, res) => {
      proxy.forward(req, res, target, { onOutcome: () => undefined });
    });
    cleanups.push(async () => {
      proxy.close();
      await front.close();
      await backend.close();
    });
    const answer = await request(front.url);
    expect(answer).toMatchObject({ status: 200, body: 'resolved' });
    expect(looked).toContain('backend.dispatchlab.invalid');
  });

  it('drops hop-by-hop headers both ways, rewrites Host and appends X-Forwarded-*', async () => {
    let seen: http.IncomingHttpHeaders = {};
    let seenBody = '';
    const { dispatcher, backend } = await setup([engine, front], (req, res) => {
      seen = req.headers;
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (seenBody += chunk));
      req.on('end', () => {
        res.writeHead(200, {
          connection: 'x-backend-private, keep-alive',
          'x-backend-private': 'secret',
          'keep-alive': 'timeout=65',
          'proxy-authenticate': 'Basic',
          'proxy-authentication-info': 'nextnonce="x"',
          upgrade: 'h2c',
          trailer: 'x-checksum',
          'x-end-to-end': 'kept',
        });
        res.end('ok');
      });
    });
    const answer = await request(dispatcher.url, {
      method: 'POST',
      path: '/form?x=1',
      headers: {
        host: 'forged.example:1',
        connection: 'x-client-private',
        'x-client-private': 'secret',
        'keep-alive': 'timeout=5',
        te: 'trailers',
        'proxy-authorization': 'Basic eDp5',
        'proxy-connection': 'keep-alive',
        'x-forwarded-for': '10.0.0.1',
        'transfer-encoding': 'chunked',
      },
      chunks: [Buffer.from('hello '), Buffer.from('world')],
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('ok');
    for (const name of ['x-client-private', 'keep-alive', 'te', 'proxy-authorization', 'proxy-connection', 'upgrade']) expect(seen[name], name).toBeUndefined();
    expect(seen.connection ?? 'keep-alive').toMatch(/^keep-alive$/i);
    expect(seenBody).toBe('hello world');
    expect(seen.host).toBe(new URL(backend.url).host);
    expect(seen['x-forwarded-host']).toBe('forged.example:1');
    expect(seen['x-forwarded-for']).toBe('10.0.0.1, 127.0.0.1');
    for (const name of ['x-backend-private', 'keep-alive', 'proxy-authenticate', 'proxy-authentication-info', 'upgrade', 'trailer']) expect(answer.headers[name], name).toBeUndefined();
    expect(answer.headers['x-end-to-end']).toBe('kept');
    // Chunked from the backend, framed again by the dispatcher for this connection.
    expect(answer.headers['transfer-encoding']).toBe('chunked');
    expect(answer.headers.connection).toBe('keep-alive');
  });

  it('relays Content-Length bodies byte for byte, the head and the body in one backend write, small and past the fast front\'s small-write size', async () => {
    // Every byte value, in a pattern that differs from one offset to the next.
    const bodyOf = (bytes: number): Buffer => Buffer.from(Array.from({ length: bytes }, (_, i) => (i * 7 + (i >> 8)) & 0xff));
    const sizes = [3, 16 * 1024, 16 * 1024 + 1, 200_000];
    const { dispatcher } = await setup([engine, front], (req, res) => {
      const body = bodyOf(Number(req.url?.slice(1)));
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
    });
    for (const bytes of sizes) {
      const answer = await new Promise<Buffer>((resolve, reject) => {
        http.get(`${dispatcher.url}/${bytes}`, { agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve(Buffer.concat(chunks)));
          res.on('error', reject);
        }).on('error', reject);
      });
      expect(answer.equals(bodyOf(bytes))).toBe(true);
    }
  });

  it('a client that leaves aborts the upstream request, frees the lease, and is not held against the backend', async () => {
    let upstreamClosed = false;
    let arrived = false;
    const { dispatcher, outcomes } = await setup([engine, front], (req, res) => {
      arrived = true;
      res.on('close', () => (upstreamClosed = !res.writableFinished));
    });
    const req = http.get(`${dispatcher.url}/slow`, { agent: false });
    req.on('error', () => {});
    await until(() => arrived);
    req.destroy();
    await until(() => upstreamClosed && dispatcher.balancer.views()[0].inFlight === 0);
    expect(outcomes.map((o) => o.outcome)).toEqual([{ kind: 'client-abort' }]);
    await until(() => dispatcher.balancer.stats().requests === 1);
    expect(await requestsTotal(dispatcher, 'a', '499')).toBe(1);
  });

  it('tells a silent backend (504, timeout) from one that resets (502) or refuses (502, connect-error)', async () => {
    let mode: 'silent' | 'reset' = 'silent';
    const { dispatcher, outcomes, backend } = await setup(
      [engine, front],
      (req) => {
        if (mode === 'reset') req.socket.destroy();
      },
      { timeouts: { upstreamMs: 200, totalMs: 20_000 } },
    );
    expect((await request(dispatcher.url, { path: '/silent' })).status).toBe(504);
    mode = 'reset';
    const reset = await request(dispatcher.url, { path: '/reset' });
    expect(reset.status).toBe(502);
    await backend.close();
    const refused = await request(dispatcher.url, { path: '/refused' });
    expect(refused.status).toBe(502);
    expect(refused.body).toContain('connect-error');
    // A GET that died before any response byte could be retried elsewhere: it is a connect error.
    expect(outcomes.map((o) => o.outcome.kind)).toEqual(['timeout', 'connect-error', 'connect-error']);
  });

  it('a backend that dies mid-answer cuts the client off and counts as a reset', async () => {
    const { dispatcher, outcomes } = await setup([engine, front], (_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial', () => setTimeout(() => res.socket?.destroy(), 20));
    });
    await expect(request(dispatcher.url)).rejects.toThrow();
    await until(() => outcomes.length === 1);
    expect(outcomes[0].outcome).toEqual({ kind: 'reset' });
  });

  it("relays a backend's early 413 on an oversized upload, and never charges the backend for it", async () => {
    const { dispatcher, outcomes } = await setup(
      [engine, front],
      (req, res) => {
        // Answer before reading the body, then drop the rest: as the replicas do (backends/replica-app.ts).
        res.writeHead(413, { 'content-type': 'application/json' });
        res.end('{"error":"too large"}');
        req.resume();
      },
      { outlier: { consecutiveErrors: 1 } },
    );
    const upload = Array.from({ length: 32 }, () => Buffer.alloc(64 * 1024, 7));
    for (let i = 0; i < 8; i++) {
      const answer = await request(dispatcher.url, { method: 'POST', path: '/upload', headers: { 'content-length': String(32 * 64 * 1024) }, chunks: upload });
      expect(answer.status).toBe(413);
      expect(answer.body).toContain('too large');
    }
    expect(outcomes.map((o) => o.outcome)).toEqual(Array.from({ length: 8 }, () => ({ kind: 'response', status: 413 })));
    expect(dispatcher.balancer.backends()[0].state).toBe('healthy');
  });

  it("after an early answer, the rest of the client's upload is dropped and its connection serves the next request", async () => {
    const { dispatcher } = await setup([engine, front], (req, res) => {
      if (req.method === 'POST') {
        res.writeHead(413);
        res.end('too large');
        req.resume();
      } else {
        res.end('next');
      }
    });
    const socket = net.connect(Number(new URL(dispatcher.url).port), '127.0.0.1');
    cleanups.push(async () => void socket.destroy());
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.write(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${4 << 20}\r\n\r\n`);
    socket.write(Buffer.alloc(1 << 20));
    await until(() => /^HTTP\/1\.1 413 [^]*too large/.test(data));
    socket.write(Buffer.alloc(3 << 20));
    socket.write('GET /next HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => /HTTP\/1\.1 200 [^]*next$/.test(data));
  });

  it("a client's broken upload is the client's error, not the backend's", async () => {
    let arrived = false;
    const { dispatcher, outcomes } = await setup(
      [engine, front],
      (req, res) => {
        arrived = true;
        req.resume();
        req.on('end', () => res.end('ok'));
      },
      { outlier: { consecutiveErrors: 1 } },
    );
    const req = http.request(`${dispatcher.url}/upload`, { method: 'POST', agent: false, headers: { 'content-length': String(SMALL_BODY_BYTES * 4) } });
    req.on('error', () => {});
    req.write(Buffer.alloc(SMALL_BODY_BYTES * 2));
    await until(() => arrived);
    req.destroy();
    await until(() => outcomes.length === 1);
    expect(outcomes[0].outcome).toEqual({ kind: 'client-abort' });
    expect(dispatcher.balancer.backends()[0].state).toBe('healthy');
  });

  it('reads a small body before routing: a slow one holds no backend, and its total timeout starts when it is in', async () => {
    let served = 0;
    let bodyBytes = 0;
    const { dispatcher } = await setup(
      [engine, front],
      (req, res) => {
        served++;
        req.on('data', (chunk: Buffer) => (bodyBytes += chunk.length));
        req.on('end', () => res.end('ok'));
      },
      { timeouts: { upstreamMs: 5000, totalMs: 1000 }, client: { bodyTimeoutMs: 20_000 } },
    );
    // The body takes at least 1.2 s, longer than the total timeout.
    const chunks = Array.from({ length: 5 }, () => Buffer.alloc(1000, 1));
    const answer = request(dispatcher.url, { method: 'POST', headers: { 'content-length': '5000' }, chunks, gapMs: 300 });
    // While the body trickles in, no backend slot is taken.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(dispatcher.balancer.views()[0].inFlight).toBe(0);
    expect(served).toBe(0);
    expect((await answer).status).toBe(200);
    expect(bodyBytes).toBe(5000);
  });

  it('a streamed upload the client stalls is its fault when time runs out: 408, the backend not charged', async () => {
    let arrived = false;
    const { dispatcher, outcomes } = await setup(
      [engine, front],
      (req, res) => {
        arrived = true;
        req.resume();
        req.on('end', () => res.end('ok'));
      },
      { timeouts: { upstreamMs: 300, totalMs: 20_000 }, outlier: { consecutiveErrors: 1 } },
    );
    const answer = new Promise<RawAnswer>((resolve, reject) => {
      const req = http.request(`${dispatcher.url}/upload`, { method: 'POST', agent: false, headers: { 'content-length': String(4 * SMALL_BODY_BYTES) } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' }));
      });
      req.on('error', reject);
      // Half the body, then nothing: the dispatcher streams what came and waits for the rest.
      req.write(Buffer.alloc(2 * SMALL_BODY_BYTES));
    });
    const { status, headers } = await answer;
    expect(arrived).toBe(true);
    expect(status).toBe(408);
    expect(headers.connection).toBe('close');
    expect(outcomes.map((o) => o.outcome)).toEqual([{ kind: 'client-abort' }]);
    expect(dispatcher.balancer.backends()[0].state).toBe('healthy');
    expect(await requestsTotal(dispatcher, 'a', '408')).toBe(1);
  });

  it('answers 408 to a small body that does not arrive in time, without a backend', async () => {
    let served = 0;
    const { dispatcher, outcomes } = await setup(
      [engine, front],
      (_req, res) => {
        served++;
        res.end('ok');
      },
      { client: { bodyTimeoutMs: 150 } },
    );
    const answer = await new Promise<string>((resolve) => {
      const { port } = new URL(dispatcher.url);
      const socket = net.connect(Number(port), '127.0.0.1', () => socket.write('POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly-part'));
      let data = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (data += chunk));
      socket.on('error', () => {});
      socket.on('close', () => resolve(data));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toMatch(/connection: close/i);
    expect(served).toBe(0);
    expect(outcomes).toEqual([]);
    expect(await requestsTotal(dispatcher, 'none', '408')).toBe(1);
  });
});
