import { Client } from 'undici';
import { createLatencyRecorder } from '../core/latency.js';
import { preciseClock } from '../core/precise-clock.js';

/**
 * `npm run bench:proxy`'s fixed-rate load (issue 12's p99 at 1,000 connections): `connections`
 * keep-alive connections, opened and used once before the clock starts, and one GET every
 * 1000 / rateRps ms, arrival i on connection i mod connections, so each connection sends at
 * rateRps / connections, evenly staggered: wrk2's constant-throughput schedule. Latency runs from
 * the *intended* send time to the end of the answer, so a connection still waiting for its previous
 * answer delays its next request and the delay counts (no coordinated omission), and so does the
 * generator's own lateness, which is reported beside it (`lateP99Ms`) to tell the two apart.
 *
 * Why not a tool: wrk2 is not packaged by Debian; autocannon's rate is a token bucket per
 * connection measured from the actual send (loadtest/open-loop.ts, "Why hand-written"), and that
 * generator sends each arrival on whatever connection is free, so it would not hold 1,000 open.
 * One undici Client per connection (pipelining 1), so a busy connection queues its next request
 * instead of opening another. Arrivals are woken by core/precise-clock.ts, not setTimeout, whose
 * whole-millisecond granularity alone would add 0.6 ms to every latency.
 */

export interface FixedRatePlan {
  readonly url: string;
  readonly connections: number;
  readonly rateRps: number;
  /** Sent at the same rate before the window and not recorded: the generator's and the proxy's warm-up at this load. */
  readonly warmupS: number;
  readonly durationS: number;
  /** An answer later than this (from its intended send) is counted in `timeouts` as well as recorded, as wrk's --timeout counts. */
  readonly timeoutMs: number;
}

export interface FixedRateResult {
  /** Answers (2xx or not) within the timeout, to requests intended inside the window. */
  readonly requests: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly non2xx: number;
  /** Requests that failed: reset, refused, or no answer within GIVE_UP_MS. */
  readonly errors: number;
  /** Answers later than the plan's timeoutMs. */
  readonly timeouts: number;
  /** How late the generator sent, p99 (its own timer and event loop, not the proxy's). */
  readonly lateP99Ms: number;
}

/** When arrival `i` is meant to be sent, in ms after the start, and on which connection. */
export function arrival(i: number, connections: number, rateRps: number): { readonly atMs: number; readonly connection: number } {
  return { atMs: (i * 1000) / rateRps, connection: i % connections };
}

/** When a request is abandoned as an error; far beyond any answer the table reports. */
const GIVE_UP_MS = 30_000;
/** Connections opened at once before the window: a burst of 1,000 is the closed-loop run's subject, not this one's. */
const OPEN_BATCH = 50;

export async function runFixedRate(plan: FixedRatePlan): Promise<FixedRateResult> {
  const origin = new URL(plan.url).origin;
  const path = new URL(plan.url).pathname;
  const clients = Array.from({ length: plan.connections }, () => new Client(origin, { pipelining: 1, headersTimeout: GIVE_UP_MS, bodyTimeout: GIVE_UP_MS, keepAliveTimeout: 120_000 }));
  try {
    // Every connection open and answered once, so the window measures requests, not handshakes.
    for (let i = 0; i < clients.length; i += OPEN_BATCH) {
      await Promise.all(clients.slice(i, i + OPEN_BATCH).map(async (c) => (await c.request({ path, method: 'GET' })).body.dump()));
    }

    const latency = createLatencyRecorder();
    const lateness = createLatencyRecorder();
    let requests = 0;
    let non2xx = 0;
    let errors = 0;
    let timeouts = 0;
    let outstanding = 0;
    let allSent = false;
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const warmupMs = plan.warmupS * 1000;
    const endMs = warmupMs + plan.durationS * 1000;
    const startMs = performance.now();

    const send = (client: Client, intendedMs: number, recorded: boolean): void => {
      outstanding++;
      client
        .request({ path, method: 'GET' })
        .then(async ({ statusCode, body }) => {
          await body.dump();
          if (!recorded) return;
          requests++;
          if (statusCode < 200 || statusCode > 299) non2xx++;
          const latencyMs = performance.now() - intendedMs;
          latency.record(latencyMs);
          if (latencyMs > plan.timeoutMs) timeouts++;
        })
        .catch(() => {
          if (recorded) errors++;
        })
        .finally(() => {
          outstanding--;
          if (allSent && outstanding === 0) done();
        });
    };

    let next = 0;
    const wake = (): void => {
      const nowMs = performance.now() - startMs;
      for (let a = arrival(next, plan.connections, plan.rateRps); a.atMs <= nowMs && a.atMs < endMs; a = arrival(++next, plan.connections, plan.rateRps)) {
        const recorded = a.atMs >= warmupMs;
        if (recorded) lateness.record(nowMs - a.atMs);
        send(clients[a.connection], startMs + a.atMs, recorded);
      }
      const due = arrival(next, plan.connections, plan.rateRps).atMs;
      if (due < endMs) {
        preciseClock.schedule(Math.max(0, due - (performance.now() - startMs)), wake);
        return;
      }
      allSent = true;
      if (outstanding === 0) done();
    };
    wake();
    // Also what keeps this process's loop alive between wakes: the precise clock's worker does not.
    await withTimeout(finished, endMs + GIVE_UP_MS * 2, 'the run');
    return {
      requests,
      rps: requests / plan.durationS,
      p50Ms: latency.percentile(50),
      p99Ms: latency.percentile(99),
      maxMs: latency.count === 0 ? 0 : latency.summary().max,
      non2xx,
      errors,
      timeouts,
      lateP99Ms: lateness.percentile(99),
    };
  } finally {
    await Promise.all(clients.map((c) => c.destroy()));
  }
}

async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`fixed-rate load: ${what} took over ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
