import autocannon from 'autocannon';
import { createRng } from '../core/rng.js';
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
 * Sessions: every connection is one user with its own cookie jar, kept in autocannon's
 * per-connection `context`: captured in `onResponse`, sent in `setupRequest`. autocannon resets the
 * context each time the `requests` array wraps around, so one pass through the array is one user
 * session; the array is SESSION_REQUESTS long so a session is long enough for stickiness to matter.
 *
 * Latency: autocannon's own histogram has whole-millisecond resolution, so each response time
 * (hrtime, sub-ms) is recorded from its 'response' event into our HDR recorder instead.
 *
 * Bounds: each phase runs for its duration; requests still outstanding when it ends are abandoned
 * by autocannon (not counted here; the dispatcher may count them as client aborts).
 */

const SESSION_REQUESTS = 200;
const TICK_MS = 500;

interface SessionContext {
  jar?: CookieJar;
}

type Headers = Record<string, string | string[] | undefined>;

function setCookieOf(headers: Headers): string | string[] | undefined {
  // autocannon keeps the raw header case.
  for (const [name, value] of Object.entries(headers)) if (name.toLowerCase() === 'set-cookie') return value;
  return undefined;
}

export async function runClosedLoop(plan: ClosedLoopPlan, hooks: LoadHooks = {}): Promise<LoadResult> {
  const nextRequest = createRequestPlanner(plan.classes, plan.sessions, createRng(plan.seed));
  const requests: autocannon.Request[] = Array.from({ length: SESSION_REQUESTS }, () => {
    const planned = nextRequest();
    return {
      method: planned.method as autocannon.Request['method'],
      path: planned.path,
      headers: { ...planned.headers },
      ...(planned.body !== undefined ? { body: planned.body } : {}),
      setupRequest(request: autocannon.Request, context: object) {
        const cookie = (context as SessionContext).jar?.header();
        return cookie === undefined ? request : { ...request, headers: { ...request.headers, cookie } };
      },
      onResponse(_status: number, _body: string, context: object, headers: autocannon.Request['headers']) {
        const session = context as SessionContext;
        session.jar ??= new CookieJar();
        session.jar.store(setCookieOf((headers ?? {}) as Headers));
      },
    };
  });

  async function phase(name: LoadPhase, durationMs: Millis): Promise<RunRecorder> {
    const startMs = performance.now();
    const recorder = new RunRecorder(name, startMs);
    let settle!: (err: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      settle = (err) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve());
    });
    // With a callback autocannon returns its instance (for the events) and reports the end or an
    // error (bad options included) to the callback.
    const instance = autocannon(
      { url: plan.url, connections: plan.connections, duration: durationMs / 1000, timeout: plan.timeoutMs / 1000, requests, skipAggregateResult: true },
      (err) => settle(err),
    );
    instance.on('response', (_client, statusCode: number, _bytes, responseTimeMs: number) => {
      const endMs = performance.now();
      recorder.record(String(statusCode), endMs - responseTimeMs, endMs);
    });
    instance.on('reqError', (err: Error) => recorder.record(err.message === 'request timed out' ? 'timeout' : 'error'));
    const ticker = setInterval(() => hooks.onTick?.(recorder.tick(performance.now(), plan.connections)), TICK_MS);
    try {
      await done;
    } finally {
      clearInterval(ticker);
    }
    return recorder;
  }

  if (plan.warmupMs > 0) await phase('warmup', plan.warmupMs);
  await hooks.beforeMeasure?.();
  return (await phase('measure', plan.durationMs)).result();
}
