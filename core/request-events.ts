import type { BackendId, Millis } from './types.js';

/**
 * One request lifecycle for both modes (DESIGN.md, "One request lifecycle"): the live dispatcher
 * (dispatcher/http-dispatcher.ts) and the simulator's transport (sim/driver.ts) emit the same
 * events at the same points of a request's life, and every count of a report or of Prometheus is
 * made from them (core/run-accumulator.ts builds the report; dispatcher/metrics.ts is the
 * Prometheus sink). Each event names the request by its arrival time, which is all a sink needs to
 * tell measured requests (arrived in the measured window) from warm-up ones.
 *
 * Arguments are positional, not event objects: the simulator emits about four events per request
 * at millions of requests per second, and an object per event would be garbage per event.
 *
 * An attempt's events name its backend twice: by id, which is the truth, and by `backendIndex`
 * (Lease.backendIndex: its position among the backends its Balancer was given, in order, and
 * added since), which a sink keeping an array of backends in that order may use to find its entry
 * without a lookup by id, after checking the id there (another Balancer, or one whose backends
 * changed, may number them differently). On a fleet of 10,000 backends that lookup is a cache miss
 * per event.
 */

export interface RequestEvents {
  /** A request reached the dispatcher. */
  arrived(arrivedAtMs: Millis): void;
  /** An attempt of it was dispatched to `backend` after `queueWaitMs` in the dispatcher queue; attempt 1 is the first, 2.. are retries. */
  admitted(arrivedAtMs: Millis, backend: BackendId, queueWaitMs: Millis, attempt: number, backendIndex: number): void;
  /** That attempt ended; `failed` when the backend is to blame (connect error, reset, timeout, 5xx), never for a client abort. */
  attemptEnded(arrivedAtMs: Millis, backend: BackendId, failed: boolean, backendIndex: number): void;
  /**
   * The request's final answer: `code` is the HTTP status, or one of ANSWER_CODES; `backend` is the
   * backend of its last attempt, or NO_BACKEND when none was dispatched (refused, not routable).
   */
  answered(arrivedAtMs: Millis, backend: BackendId, code: string, latencyMs: Millis): void;
}

/** The backend of an answer no backend gave (a refusal: 503; a bad request target: 400). */
export const NO_BACKEND = 'none';

/** Answers that are not a status a backend sent, named as the dispatcher's `code` label names them. */
export const ANSWER_CODES = {
  /** 502: every attempt failed to connect, or was reset before any response byte. */
  connectFailed: 'error',
  /** 504: the upstream or the total timeout ran out. */
  timeout: 'timeout',
  /** The client left before its answer (nginx's "client closed request"). */
  clientClosed: '499',
  /** 503: refused by the dispatcher (no backend, queue full, queue timeout). */
  refused: '503',
} as const;

const DIGIT_0 = 48;
const DIGIT_1 = 49;
const DIGIT_3 = 51;
const DIGIT_9 = 57;

/** A status that is not an error: 1xx-3xx. By character codes, not a regex: it runs once per simulated request. */
export function isSuccess(code: string): boolean {
  if (code.length !== 3) return false;
  const c0 = code.charCodeAt(0);
  const c1 = code.charCodeAt(1);
  const c2 = code.charCodeAt(2);
  return c0 >= DIGIT_1 && c0 <= DIGIT_3 && c1 >= DIGIT_0 && c1 <= DIGIT_9 && c2 >= DIGIT_0 && c2 <= DIGIT_9;
}

/** Several sinks as one (the dispatcher's metrics and a run's accumulator). */
export function fanOut(sinks: readonly RequestEvents[]): RequestEvents {
  return sinks.length === 1 ? sinks[0] : new FanOut(sinks);
}

/** Plain loops: forEach would allocate a closure per event, four events per proxied request. */
class FanOut implements RequestEvents {
  constructor(private readonly sinks: readonly RequestEvents[]) {}

  arrived(at: Millis): void {
    for (const s of this.sinks) s.arrived(at);
  }

  admitted(at: Millis, backend: BackendId, waitMs: Millis, attempt: number, backendIndex: number): void {
    for (const s of this.sinks) s.admitted(at, backend, waitMs, attempt, backendIndex);
  }

  attemptEnded(at: Millis, backend: BackendId, failed: boolean, backendIndex: number): void {
    for (const s of this.sinks) s.attemptEnded(at, backend, failed, backendIndex);
  }

  answered(at: Millis, backend: BackendId, code: string, latencyMs: Millis): void {
    for (const s of this.sinks) s.answered(at, backend, code, latencyMs);
  }
}
