import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { PROXY_ENGINES, ScenarioSchema } from '../../core/scenario.js';
import type { BackendId } from '../../core/types.js';
import type { AttemptOutcome } from '../../dispatcher/balancer/types.js';
import { startDispatcher, type RunningDispatcher } from '../../dispatcher/dispatcher-service.js';
import { startTestServer } from '../helpers/test-server.js';
import { until } from './dispatcher-helpers.js';

// Envoy's `retry_on: gateway-error` on real sockets, with every engine: a backend's 502, 503 or
// 504 to a retryable request is dropped before any of it reaches the client and the request goes
// to another backend; a request with a body, or the last attempt, gets the answer as it came.

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

const ALL_CONDITIONS = ['connect-failure', 'reset', 'per-try-timeout', 'gateway-error'];

interface Setup {
  readonly dispatcher: RunningDispatcher;
  /** Every attempt's outcome, as the Balancer heard it. */
  readonly outcomes: { backend: BackendId; outcome: AttemptOutcome }[];
}

/** Two backends, `a` and `b`, each answering through `handler(name, ...)`. */
async function setup(engine: string, handler: (name: string, req: http.IncomingMessage, res: http.ServerResponse) => void, dispatcher: Record<string, unknown> = {}): Promise<Setup> {
  const backends = await Promise.all(['a', 'b'].map(async (id) => ({ id, server: await startTestServer((req, res) => handler(id, req, res)) })));
  const outcomes: Setup['outcomes'] = [];
  const running = await startDispatcher({
    settings: ScenarioSchema.shape.dispatcher.parse({ engine, retries: 1, retryOn: ALL_CONDITIONS, ...dispatcher }),
    backends: backends.map((b) => ({ id: b.id, url: b.server.url })),
    policy: 'round-robin',
    healthChecks: false,
    onAttemptEnded: (_info, id, _attempt, outcome) => outcomes.push({ backend: id, outcome }),
  });
  cleanups.push(async () => {
    await running.close(0);
    await Promise.all(backends.map((b) => b.server.close()));
  });
  return { dispatcher: running, outcomes };
}

function answer(res: http.ServerResponse, status: number, body: string, headers: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** Read the request's body (if any), then answer. */
function afterBody(req: http.IncomingMessage, then: () => void): void {
  req.resume();
  req.on('end', then);
}

async function send(url: string, init: RequestInit = {}): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(url, init);
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** The dispatcher's counter line `name{...backend="id"...}`, summed over its other labels. */
async function counter(d: RunningDispatcher, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${d.adminUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) && line.includes(labels)) sum += Number(line.split(' ').at(-1));
  return sum;
}

describe.each(PROXY_ENGINES)('retrying gateway errors, the %s engine', (engine) => {
  it('a GET whose backend answers 503 once is answered 200 by the other one, and the 503 is counted against the first', async () => {
    let served = 0;
    const { dispatcher, outcomes } = await setup(engine, (name, req, res) =>
      afterBody(req, () => (served++ === 0 ? answer(res, 503, `overloaded ${name}`, { 'retry-after': '1' }) : answer(res, 200, `from ${name}`))),
    );
    const first = await send(`${dispatcher.url}/page`);
    expect(first.status).toBe(200);
    expect(first.headers.get('retry-after')).toBeNull();
    // The answered attempt ends when the dispatcher's response closes, which the client may see first.
    await until(() => outcomes.length === 2);
    const [failed, ok] = outcomes;
    expect(failed.outcome).toEqual({ kind: 'response', status: 503 });
    expect(ok.outcome).toEqual({ kind: 'response', status: 200 });
    expect(ok.backend).not.toBe(failed.backend);
    expect(first.body).toBe(`from ${ok.backend}`);
    const charged = dispatcher.balancer.backends().find((b) => b.id === failed.backend);
    expect(charged).toMatchObject({ errors: 1, consecutiveFailures: 1 });
    // One answer for the client, recorded once, and one retry.
    expect(await counter(dispatcher, 'dispatchlab_requests_total', 'code="200"')).toBe(1);
    expect(await counter(dispatcher, 'dispatchlab_requests_total', 'code="503"')).toBe(0);
    expect(await counter(dispatcher, 'dispatchlab_retries_total', `backend="${ok.backend}"`)).toBe(1);
    // The backend that failed serves the next requests: nothing of the dropped answer is left in the way.
    const next = await Promise.all([1, 2, 3, 4].map(() => send(`${dispatcher.url}/page`)));
    expect(next.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(next.map((a) => a.body).sort()).toEqual(['from a', 'from a', 'from b', 'from b']);
  });

  it('drops an answer whose body never ends without waiting for it: the retry answers at once', async () => {
    let served = 0;
    const { dispatcher, outcomes } = await setup(
      engine,
      (name, req, res) =>
        afterBody(req, () => {
          if (served++ > 0) return answer(res, 200, `from ${name}`);
          res.writeHead(502, { 'content-type': 'text/plain' });
          res.write('the start of a body that never ends');
        }),
      // Far beyond the test's own timeout: waiting for that body would fail the test.
      { timeouts: { upstreamMs: 60_000, totalMs: 60_000 } },
    );
    const first = await send(`${dispatcher.url}/page`);
    expect(first.status).toBe(200);
    await until(() => outcomes.length === 2);
    expect(outcomes.map((o) => o.outcome)).toEqual([
      { kind: 'response', status: 502 },
      { kind: 'response', status: 200 },
    ]);
  });

  it('a POST with a body gets the 503 as the backend sent it: never sent twice', async () => {
    const { dispatcher, outcomes } = await setup(engine, (name, req, res) => afterBody(req, () => answer(res, 503, `overloaded ${name}`, { 'retry-after': '7' })));
    const post = await send(`${dispatcher.url}/order`, { method: 'POST', body: 'one order' });
    expect(post.status).toBe(503);
    expect(post.headers.get('retry-after')).toBe('7');
    await until(() => dispatcher.balancer.stats().completed === 1);
    expect(outcomes).toHaveLength(1);
    expect(post.body).toBe(`overloaded ${outcomes[0].backend}`);
    expect(await counter(dispatcher, 'dispatchlab_requests_total', 'code="503"')).toBe(1);
  });

  it('when the retries are spent, the last attempt\'s 504 is relayed as it came', async () => {
    const { dispatcher, outcomes } = await setup(engine, (name, req, res) => afterBody(req, () => answer(res, 504, `gateway timeout at ${name}`, { 'x-upstream': name })));
    const get = await send(`${dispatcher.url}/page`);
    expect(get.status).toBe(504);
    await until(() => outcomes.length === 2);
    expect(outcomes.map((o) => o.outcome)).toEqual([
      { kind: 'response', status: 504 },
      { kind: 'response', status: 504 },
    ]);
    const last = outcomes[1].backend;
    expect(last).not.toBe(outcomes[0].backend);
    expect(get.body).toBe(`gateway timeout at ${last}`);
    expect(get.headers.get('x-upstream')).toBe(last);
    expect(await counter(dispatcher, 'dispatchlab_requests_total', 'code="504"')).toBe(1);
  });

  it('without gateway-error in retryOn (the default) a 503 is relayed, not retried; a 500 never is', async () => {
    const { dispatcher, outcomes } = await setup(engine, (name, req, res) => afterBody(req, () => answer(res, 503, `overloaded ${name}`)), {
      retryOn: ScenarioSchema.shape.dispatcher.parse({}).retryOn,
    });
    expect((await send(`${dispatcher.url}/page`)).status).toBe(503);
    await until(() => dispatcher.balancer.stats().completed === 1);
    expect(outcomes).toHaveLength(1);

    const withGatewayErrors = await setup(engine, (name, req, res) => afterBody(req, () => answer(res, 500, `broken ${name}`)));
    expect((await send(`${withGatewayErrors.dispatcher.url}/page`)).status).toBe(500);
    await until(() => withGatewayErrors.dispatcher.balancer.stats().completed === 1);
    expect(withGatewayErrors.outcomes).toHaveLength(1);
  });
});
