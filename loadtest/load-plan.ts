import type { LatencySummary } from '../core/report.js';
import type { RequestClass } from '../core/scenario.js';
import type { TimelinePoint } from '../core/latency.js';
import type { Millis } from '../core/types.js';

/**
 * What the parent asks the load-generator process to do, and what comes back. Plain data only:
 * it crosses the IPC channel as JSON.
 */

interface PlanBase {
  /** The dispatcher's base URL, e.g. http://127.0.0.1:40123 */
  readonly url: string;
  readonly seed: number;
  readonly classes: readonly RequestClass[];
  readonly sessions: number;
  readonly warmupMs: Millis;
  /** The measured window, after the warm-up. */
  readonly durationMs: Millis;
  /** A request unanswered after this long is abandoned and counted as code "timeout". */
  readonly timeoutMs: Millis;
}

export interface OpenLoopPlan extends PlanBase {
  readonly kind: 'open';
  readonly rateRps: number;
  /**
   * Several dispatchers in front of one fleet, the live twin of `simulate --dispatchers K`:
   * arrival i goes to dispatchers[i mod K], as sim/driver.ts sends it. Default: [url].
   */
  readonly dispatchers?: readonly string[];
  /** Arrivals while this many requests are outstanding are not sent: counted as code "dropped". */
  readonly maxInFlight: number;
}

export interface ClosedLoopPlan extends PlanBase {
  readonly kind: 'closed';
  readonly connections: number;
}

export type LoadPlan = OpenLoopPlan | ClosedLoopPlan;

export type LoadPhase = 'warmup' | 'measure' | 'drain';

export interface LoadTick {
  readonly phase: LoadPhase;
  readonly elapsedMs: Millis;
  /** Requests answered (any status) or failed so far in this phase. */
  readonly requests: number;
  readonly errors: number;
  readonly inFlight: number;
  /** Completions per second over the last tick interval. */
  readonly rateRps: number;
}

/** What a generator (in this process or a child) tells its caller while it runs. */
export interface LoadHooks {
  onTick?(tick: LoadTick): void;
  /** Called before the first request of the run (its warm-up's), the run's start; the generator waits for it. */
  beforeWarmup?(): Promise<void>;
  /** Called between the warm-up and the measured window, with nothing in flight; the generator waits for it. */
  beforeMeasure?(): Promise<void>;
  /** Open loop: a request ended (answered, failed, timed out, or dropped unsent) with `code`; `url` is where it went. */
  onRequestEnd?(code: string, url: string): void;
  /** Open loop: stop sending when it aborts; what was sent is drained and reported as the phase's result. */
  readonly signal?: AbortSignal;
}

export interface LoadResult {
  /** Requests of the measured window: answered with any status, failed, timed out or dropped. */
  readonly requests: number;
  /** By HTTP status, or "error" (connection failed), "timeout", "dropped" (open loop, not sent). */
  readonly codes: Readonly<Record<string, number>>;
  readonly errors: number;
  /** From the start of the measured window to its last completion (the drain included). */
  readonly elapsedMs: Millis;
  /** Latency of successful (1xx-3xx) answers, from the intended send time (open loop) or the send (closed). */
  readonly latencyMs: LatencySummary;
  readonly cdf: ReadonlyArray<readonly [number, number]>;
  readonly timeline: readonly TimelinePoint[];
  /** Open loop: arrivals sent LATE_SEND_MS or more after their intended time (the generator or its machine fell behind). */
  readonly late?: number;
  /** Open loop: how long after its intended time each arrival was sent. */
  readonly sendLagMs?: { readonly p99: number; readonly max: number };
}

/**
 * An arrival sent this much after its intended time is late. Node's timers wake about a
 * millisecond late as a matter of course; 10 ms is beyond that, and at 100 req/s (10 ms apart)
 * already reorders the arrival process.
 */
export const LATE_SEND_MS = 10;
