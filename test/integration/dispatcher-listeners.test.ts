import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../core/clock.js';
import type { RequestEvents } from '../../core/request-events.js';
import { PROXY_ENGINES } from '../../core/scenario.js';
import { Balancer } from '../../dispatcher/balancer/balancer.js';
import { DeadlineQueue } from '../../dispatcher/balancer/deadlines.js';
import { PROXY_ENGINE_FACTORIES, startDispatcher, type RunningDispatcher } from '../../dispatcher/dispatcher-service.js';
import { createProxyHandler } from '../../dispatcher/http-dispatcher.js';
import { SessionSigner } from '../../dispatcher/session-cookie.js';
import { FirstEligible, settings } from '../balancer/fixtures.js';
import { until } from './dispatcher-helpers.js';

/**
 * The hot path's own bookkeeping per request, on real sockets: one 'close' listener on the
 * response, whatever the engine, one answer per request however the attempt ends, and the upstream
 * deadline kept by the dispatcher's deadline queue, not by a socket timer per request. The backend
 * holds each request until the test has looked, so the count is read while the request is in flight.
 */

const UPSTREAM_MS = 150;

const listen = (server: http.Server): Promise<string> =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));

describe.each(PROXY_ENGINES)('the per-request bookkeeping of the hot path, %s engine', (engineName) => {
  let backend: http.Server;
  let proxy: http.Server;
  let proxyUrl: string;
  /** The same backend behind a whole dispatcher (as `dispatchlab dispatcher` starts it) whose upstream deadline is short. */
  let shortProxy: RunningDispatcher;
  let held: http.ServerResponse[] = [];
  const responses: http.ServerResponse[] = [];
  const answers: string[] = [];
  const engine = PROXY_ENGINE_FACTORIES[engineName]({});
  const deadlines = {
    upstream: new DeadlineQueue(systemClock, 10_000),
    total: new DeadlineQueue(systemClock, 10_000),
    body: new DeadlineQueue(systemClock, 10_000),
  };

  beforeAll(async () => {
    backend = http.createServer((_req, res) => held.push(res));
    const backendUrl = await listen(backend);
    const events: RequestEvents = { arrived: () => {}, admitted: () => {}, attemptEnded: () => {}, answered: (_at, _b, code) => answers.push(code) };
    const handler = createProxyHandler({
      balancer: new Balancer({ clock: systemClock, policy: new FirstEligible(), settings: settings(), backends: [{ id: 'b1', data: new URL(backendUrl) }] }),
      engine,
      clock: systemClock,
      signer: new SessionSigner(),
      deadlines,
      events,
      clientAddress: 'socket',
    });
    proxy = http.createServer((req, res) => {
      responses.push(res);
      handler(req, res);
    });
    proxyUrl = await listen(proxy);
    shortProxy = await startDispatcher({
      settings: settings({ engine: engineName, timeouts: { upstreamMs: UPSTREAM_MS, totalMs: 10_000 } }),
      backends: [{ id: 'b1', url: backendUrl }],
      policy: 'round-robin',
      healthChecks: false,
      events,
    });
  });

  afterAll(async () => {
    engine.close();
    for (const queue of Object.values(deadlines)) queue.clear();
    await shortProxy?.close(0);
    for (const server of [proxy, backend]) {
      server?.closeAllConnections();
      await new Promise((resolve) => server?.close(resolve));
    }
  });

  it('holds one close listener per request while it is forwarded, and answers it once', async () => {
    held = [];
    answers.length = 0;
    const done = fetch(`${proxyUrl}/x`).then((r) => r.text());
    await until(() => held.length === 1);
    expect(responses.at(-1)!.listenerCount('close')).toBe(1);
    held[0].end('ok');
    expect(await done).toBe('ok');
    await until(() => answers.length === 1);
    expect(answers).toEqual(['200']);
  });

  it('a client that leaves mid-request is answered once, as 499, through the same listener', async () => {
    held = [];
    answers.length = 0;
    const req = http.get(`${proxyUrl}/y`);
    req.on('error', () => {});
    await until(() => held.length === 1);
    expect(responses.at(-1)!.listenerCount('close')).toBe(1);
    const upstreamClosed = new Promise((resolve) => held[0].once('close', resolve));
    req.destroy();
    // The engine drops the upstream request when told the response closed unfinished.
    await upstreamClosed;
    await until(() => answers.length === 1);
    expect(answers).toEqual(['499']);
  });

  it('the upstream deadline runs to the response head, as simulated: a silent backend gets 504, a slow body is not cut', async () => {
    held = [];
    answers.length = 0;
    const silent = fetch(`${shortProxy.url}/silent`);
    await until(() => held.length === 1);
    expect((await silent).status).toBe(504);
    held[0].end();

    const slowBody = fetch(`${shortProxy.url}/slow-body`).then(async (r) => ({ status: r.status, body: await r.text() }));
    await until(() => held.length === 2);
    held[1].writeHead(200, { 'content-type': 'text/plain' });
    held[1].write('head ');
    // Past the upstream deadline with the head already sent: only the total timeout may cut it.
    await new Promise((resolve) => setTimeout(resolve, 3 * UPSTREAM_MS));
    held[1].end('and body');
    expect(await slowBody).toEqual({ status: 200, body: 'head and body' });
    await until(() => answers.length === 2);
    expect(answers).toEqual(['timeout', '200']);
  });
});
