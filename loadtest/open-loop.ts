import http from 'node:http';
import type { Cancel } from '../core/clock.js';
import { preciseClock } from '../core/precise-clock.js';
import { createRng } from '../core/rng.js';
import type { Millis } from '../core/types.js';
import type { LoadHooks, LoadPhase, LoadResult, OpenLoopPlan } from './load-plan.js';
import { CookieJar, createRequestPlanner, type PlannedRequest } from './request-plan.js';
import { RunRecorder } from './run-recorder.js';

/**
 * Open-loop load: a seeded Poisson arrival process at a fixed rate, each request sent at its
 * arrival time whether or not earlier ones have been answered, and its latency measured from the
 * *intended* send time into an HDR histogram.
 *
 * Why hand-written: a closed-loop tool (autocannon, wrk) waits for a response before sending the
 * next request on a connection, so when the server stalls it stops sending and the stall is
 * recorded once instead of for every request that should have been sent ("coordinated omission",
 * Gil Tene). autocannon's rate options are a per-second token bucket per connection, still closed
 * loop, and its coordinated-omission correction is wrong with a rate (it passes a rate where an
 * interval in ms is expected, in lib/run.js of autocannon 9.0.0). No maintained npm package does
 * seeded Poisson arrivals over HTTP, and the generator is ~100 lines on node:http.
 *
 * Timing: one timer wakes at the next arrival and sends every arrival whose time has come; timer
 * lateness therefore shows up as latency, as it must in an open loop, which is one reason this runs
 * in its own process (loadgen-process.ts), never on the dispatcher's event loop. The timer is
 * core/precise-clock.ts's, not setTimeout: a Node timer's whole-millisecond granularity alone would
 * send every arrival 0.6 ms late on average, latency no server added, and bunch arrivals onto
 * millisecond ticks.
 *
 * Bounds: arrivals stop at the end of each phase; then outstanding requests are drained, each one
 * bounded by `timeoutMs`. While `maxInFlight` requests are outstanding, new arrivals are not sent
 * but counted as code "dropped", so an overloaded target yields errors, not an unbounded backlog.
 *
 * Several dispatchers (plan.dispatchers): arrival i goes to dispatcher i mod K, the rule
 * sim/driver.ts follows for `simulate --dispatchers K`, so a live run and a simulated one split the
 * same arrivals the same way.
 *
 * Phases: `beforeWarmup` (the parent starts its run), warm-up (not measured), drain,
 * `beforeMeasure` (the parent scrapes metrics), measured window, drain. Draining between them means every measured request is one the target's counters
 * saw inside the window, so the report and the metrics agree exactly.
 */

const TICK_MS = 500;

export async function runOpenLoop(plan: OpenLoopPlan, hooks: LoadHooks = {}): Promise<LoadResult> {
  const targets = (plan.dispatchers ?? [plan.url]).map((url) => new URL(url));
  if (targets.length === 0) throw new Error('open loop: no dispatcher to send to');
  const agent = new http.Agent({ keepAlive: true, maxSockets: plan.maxInFlight, maxFreeSockets: plan.maxInFlight });
  const runRng = createRng(plan.seed);
  const gaps = runRng.stream('arrivals');
  const nextRequest = createRequestPlanner(plan.classes, plan.sessions, runRng);
  const jars = new Map<number, CookieJar>();
  const meanGapMs = 1000 / plan.rateRps;
  let inFlight = 0;
  let arrivals = 0;
  let onIdle: (() => void) | undefined;

  function send(request: PlannedRequest, intendedMs: Millis, recorder: RunRecorder, target: URL): void {
    let jar: CookieJar | undefined;
    if (request.session !== undefined) {
      jar = jars.get(request.session) ?? new CookieJar();
      jars.set(request.session, jar);
    }
    const headers: http.OutgoingHttpHeaders = { ...request.headers };
    const cookie = jar?.header();
    if (cookie !== undefined) headers.cookie = cookie;
    if (request.body !== undefined) headers['content-length'] = request.body.length;
    let finished = false;
    let timedOut = false;
    const finish = (code: string, answered: boolean): void => {
      if (finished) return;
      finished = true;
      clearTimeout(deadline);
      inFlight--;
      recorder.record(code, answered ? intendedMs : undefined, answered ? performance.now() : undefined);
      hooks.onRequestEnd?.(code, target.href);
      if (inFlight === 0) onIdle?.();
    };
    inFlight++;
    recorder.sent(performance.now() - intendedMs);
    const req = http.request({ agent, hostname: target.hostname, port: target.port, method: request.method, path: request.path, headers });
    // A deadline on the whole request, not req.setTimeout: that one is an idle timeout that starts
    // only once the socket is connected, so a connect to an address nobody answers any more (a
    // dispatcher scaled away) or an answer trickling in would hold the request, and the round
    // that waits for it, for minutes.
    const deadline = setTimeout(() => {
      timedOut = true;
      req.destroy();
    }, plan.timeoutMs);
    req.on('response', (res) => {
      jar?.store(res.headers['set-cookie']);
      res.resume();
      res.on('end', () => finish(String(res.statusCode), true));
      res.on('error', () => finish(timedOut ? 'timeout' : 'error', false));
      res.on('close', () => finish(timedOut ? 'timeout' : 'error', false));
    });
    req.on('error', () => finish(timedOut ? 'timeout' : 'error', false));
    req.end(request.body);
  }

  function drained(): Promise<void> {
    return inFlight === 0 ? Promise.resolve() : new Promise((resolve) => (onIdle = resolve));
  }

  async function phase(name: LoadPhase, durationMs: Millis): Promise<RunRecorder> {
    const startMs = performance.now();
    const endMs = startMs + durationMs;
    const recorder = new RunRecorder(name, startMs);
    let label: LoadPhase = name;
    const ticker = setInterval(() => hooks.onTick?.(recorder.tick(performance.now(), inFlight, label)), TICK_MS);
    let nextMs = startMs + gaps.exponential(meanGapMs);
    await new Promise<void>((resolve) => {
      let cancel: Cancel | undefined;
      const abort = (): void => {
        cancel?.();
        resolve();
      };
      if (hooks.signal?.aborted) return abort();
      hooks.signal?.addEventListener('abort', abort, { once: true });
      const pump = (): void => {
        const now = performance.now();
        for (; nextMs <= now && nextMs < endMs; nextMs += gaps.exponential(meanGapMs)) {
          const request = nextRequest();
          const target = targets[arrivals++ % targets.length];
          if (inFlight >= plan.maxInFlight) {
            recorder.record('dropped');
            hooks.onRequestEnd?.('dropped', target.href);
          } else send(request, nextMs, recorder, target);
        }
        if (nextMs >= endMs) {
          hooks.signal?.removeEventListener('abort', abort);
          resolve();
        } else cancel = preciseClock.schedule(nextMs - now, pump);
      };
      pump();
    });
    // Draining after the warm-up is still warm-up; after the measured window it is its own phase.
    if (name === 'measure') label = 'drain';
    await drained();
    clearInterval(ticker);
    return recorder;
  }

  try {
    await hooks.beforeWarmup?.();
    if (plan.warmupMs > 0) await phase('warmup', plan.warmupMs);
    await hooks.beforeMeasure?.();
    return (await phase('measure', plan.durationMs)).result();
  } finally {
    agent.destroy();
  }
}
