import autocannon from 'autocannon';
import { createRng } from '../core/rng.js';
import { CLOSED_LOOP_SESSION_REQUESTS } from '../core/workload.js';
import type { Millis } from '../core/types.js';
import type { ClosedLoopPlan, LoadHooks, LoadPhase, LoadResult } from './load-plan.js';
import { CookieJar, createRequestPlanner } from './request-plan.js';
import { RunRecorder } from './run-recorder.js';

/**
 * Closed-loop load with autocannon: `connections` clients, each sending its next request as soon as
 * the previous one is answered (a fixed population of users with no think time). Use it for
 * throughput at saturation; latency under a given offered load is the open loop's job (a closed
 * loop slows down with the server and so under-reports queueing: see open-loop.ts).
 *
 * Requests are planned as they are sent (`setupRequest`), so request n of the run is the n-th sent,
 * with the n-th class draw and cost index, as the simulator's n-th issued request.
 *
 * Sessions, as the simulator has them (core/workload.ts CLOSED_LOOP_SESSION_REQUESTS): every
 * connection is one user. Its session (a number taken when it starts, hence its client address and
 * session name) and its cookie jar live in autocannon's per-connection `context`: the cookie is
 * captured in `onResponse` and sent in `setupRequest`. autocannon resets the context each time the
 * `requests` array wraps around, so one pass through the array, CLOSED_LOOP_SESSION_REQUESTS long,
 * is one session.
 *
 * Latency: autocannon's own histogram has whole-millisecond resolution, so each response time
 * (hrtime, sub-ms) is recorded from its 'response' event into our HDR recorder instead.
 *
 * Bounds: each phase sends for its duration, then drains, as the open loop does: every connection
 * sends nothing more once its outstanding request is answered (or times out, after `timeoutMs`),
 * and the phase ends when all have stopped. autocannon's own end destroys the connections with
 * their requests in flight, which the dispatcher counted as `connections` client aborts (499) per
 * phase, errors of the measured window that the simulator, where those requests complete, never
 * had. No public option of autocannon 9 stops a connection after its answer, so drainAfterAnswer
 * sets the per-connection request limit its Client checks before each next request.
 */

const TICK_MS = 500;
/** How often autocannon looks whether every connection has stopped (its `sampleInt`; default 1 s). */
const SAMPLE_MS = 50;

/**
 * autocannon 9's Client (lib/httpClient.js) sends its next request only while `reqsMade` is under
 * `responseMax`, checked after each answer, and stops (destroys itself, emitting 'done') otherwise.
 */
interface AutocannonClient {
  reqsMade: number;
  responseMax?: number;
}

/** Let `client` finish the request it has in flight and send no other. */
function drainAfterAnswer(client: unknown): void {
  const c = client as AutocannonClient;
  if (typeof c.reqsMade !== 'number') throw new Error('closed loop: autocannon\'s client has no reqsMade: its version is not the pinned 9.0.0');
  c.responseMax = Math.max(1, c.reqsMade);
}

interface SessionContext {
  session?: number;
  jar?: CookieJar;
}

type Headers = Record<string, string | string[] | undefined>;

function setCookieOf(headers: Headers): string | string[] | undefined {
  // autocannon keeps the raw header case.
  for (const [name, value] of Object.entries(headers)) if (name.toLowerCase() === 'set-cookie') return value;
  return undefined;
}

export async function runClosedLoop(plan: ClosedLoopPlan, hooks: LoadHooks = {}): Promise<LoadResult> {
  // The closed loop's sessions are its users' (above), not drawn: the planner draws classes only.
  const nextRequest = createRequestPlanner(plan.classes, 0, createRng(plan.seed));
  let sessionsStarted = 0;
  const request: autocannon.Request = {
    setupRequest(defaults: autocannon.Request, context: object) {
      const user = context as SessionContext;
      user.session ??= sessionsStarted++;
      const planned = nextRequest(user.session);
      const cookie = user.jar?.header();
      return {
        ...defaults,
        method: planned.method as autocannon.Request['method'],
        path: planned.path,
        headers: cookie === undefined ? { ...planned.headers } : { ...planned.headers, cookie },
        ...(planned.body !== undefined ? { body: planned.body } : {}),
      };
    },
    onResponse(_status: number, _body: string, context: object, headers: autocannon.Request['headers']) {
      const user = context as SessionContext;
      user.jar ??= new CookieJar();
      user.jar.store(setCookieOf((headers ?? {}) as Headers));
    },
  };
  // One entry per request of a session: the context resets when the array wraps (above).
  const requests = new Array<autocannon.Request>(CLOSED_LOOP_SESSION_REQUESTS).fill(request);

  async function phase(name: LoadPhase, durationMs: Millis): Promise<RunRecorder> {
    const startMs = performance.now();
    const recorder = new RunRecorder(name, startMs);
    let settle!: (err: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      settle = (err) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve());
    });
    // Every connection, as autocannon creates it: each is drained when the phase ends, also one that
    // has had no answer yet (its timeout or a connection error would otherwise send again at once).
    const clients: unknown[] = [];
    // With a callback autocannon returns its instance (for the events) and reports the end or an
    // error (bad options included) to the callback. Its own duration is only a backstop: the phase
    // drains (above) from `durationMs` on, each request bounded by the timeout.
    const instance = autocannon(
      {
        url: plan.url,
        connections: plan.connections,
        duration: (durationMs + plan.timeoutMs) / 1000 + 1,
        timeout: plan.timeoutMs / 1000,
        sampleInt: SAMPLE_MS,
        requests,
        skipAggregateResult: true,
        setupClient: (client) => void clients.push(client),
      },
      (err) => settle(err),
    );
    instance.on('response', (_client, statusCode: number, _bytes, responseTimeMs: number) => {
      const endMs = performance.now();
      recorder.record(String(statusCode), endMs - responseTimeMs, endMs);
    });
    instance.on('reqError', (err: Error) => recorder.record(err.message === 'request timed out' ? 'timeout' : 'error'));
    const ticker = setInterval(() => hooks.onTick?.(recorder.tick(performance.now(), plan.connections)), TICK_MS);
    const drainAt = setTimeout(() => {
      for (const client of clients) drainAfterAnswer(client);
    }, durationMs);
    try {
      await done;
    } finally {
      clearTimeout(drainAt);
      clearInterval(ticker);
    }
    return recorder;
  }

  await hooks.beforeWarmup?.();
  if (plan.warmupMs > 0) await phase('warmup', plan.warmupMs);
  await hooks.beforeMeasure?.();
  return (await phase('measure', plan.durationMs)).result();
}
