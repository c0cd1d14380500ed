import type { Clock } from '../core/clock.js';
import { createLatencyRecorder, type LatencyRecorder } from '../core/latency.js';
import type { BackendId, Millis } from '../core/types.js';

/**
 * The dashboard's rolling view of the dispatcher's answers: one point per second for the last
 * WINDOW_S seconds, per backend and overall (requests/s, errors/s, p50 and p99 latency), the
 * moments the policy changed, and request shares counted per policy period (since the policy in
 * force was set), not since start. It hears the same `answered` events the Prometheus metrics do.
 *
 * A second is closed when time has moved past it (on the next event or the next read), so a
 * second with no traffic is a point of zeros, and reading never sees a half-filled second.
 */

export const WINDOW_S = 60;
const SECOND_MS = 1000;
/** Policy periods kept for the page (the current one and the ones before it). */
const PERIODS_KEPT = 8;
/**
 * The charts mark every policy change of the window, however many periods are kept; this only
 * bounds a flood of switches through the admin API (ten a second for the whole window).
 */
const MARKERS_KEPT = WINDOW_S * 10;
/** The overall series' key: every answer, including refusals that reached no backend. */
export const OVERALL = '*';
/** The backend label of an answer that reached no backend (refused, not routable). */
const NO_BACKEND = 'none';

export interface SecondPoint {
  /** Start of the second, on the dispatcher's clock (ms). */
  readonly tMs: number;
  readonly rps: number;
  readonly errorsPerS: number;
  /** 0 when the second had no answers. */
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface PolicyPeriod {
  readonly policy: string;
  readonly startMs: number;
  /** Undefined while it is the policy in force. */
  readonly endMs?: number;
  /** Answers per backend in this period (refusals excluded). */
  readonly requests: Readonly<Record<BackendId, number>>;
}

export interface LiveWindow {
  readonly nowMs: number;
  /** Series per backend id, and OVERALL; oldest first, at most WINDOW_S points, the last complete second last. */
  readonly series: Readonly<Record<string, readonly SecondPoint[]>>;
  /** Policy changes inside the window (the first period's start when it is inside too). */
  readonly markers: ReadonlyArray<{ readonly tMs: number; readonly policy: string }>;
  /** Most recent last. */
  readonly periods: readonly PolicyPeriod[];
}

/** An answer is an error when the dispatcher had to answer 5xx or the backend connection failed. */
export function isErrorCode(code: string): boolean {
  if (code === 'error' || code === 'timeout') return true;
  const n = Number(code);
  return Number.isInteger(n) && n >= 500;
}

class Second {
  count = 0;
  errors = 0;
  readonly latency: LatencyRecorder = createLatencyRecorder();

  close(tMs: number): SecondPoint {
    const point = {
      tMs,
      rps: this.count,
      errorsPerS: this.errors,
      p50Ms: this.latency.count > 0 ? this.latency.percentile(50) : 0,
      p99Ms: this.latency.count > 0 ? this.latency.percentile(99) : 0,
    };
    this.count = this.errors = 0;
    this.latency.reset();
    return point;
  }
}

interface MutablePeriod {
  policy: string;
  startMs: number;
  endMs?: number;
  requests: Record<BackendId, number>;
}

export class LiveStats {
  private readonly clock: Clock;
  /** The second being filled (index = floor(ms / 1000)). */
  private second: number;
  private readonly open = new Map<string, Second>();
  private readonly closed = new Map<string, SecondPoint[]>();
  private readonly periods: MutablePeriod[] = [];
  /** Every period's start (the policy changes), for the charts' window; oldest first. */
  private readonly changes: Array<{ readonly tMs: number; readonly policy: string }> = [];

  constructor(opts: { clock: Clock; policy: string }) {
    this.clock = opts.clock;
    const now = this.clock.now();
    this.second = Math.floor(now / SECOND_MS);
    this.periods.push({ policy: opts.policy, startMs: now, requests: {} });
    this.changes.push({ tMs: now, policy: opts.policy });
    this.open.set(OVERALL, new Second());
  }

  answered(backend: BackendId, code: string, durationMs: Millis): void {
    this.roll();
    const error = isErrorCode(code);
    this.count(OVERALL, error, durationMs);
    if (backend !== NO_BACKEND) {
      this.count(backend, error, durationMs);
      const counts = this.periods[this.periods.length - 1].requests;
      counts[backend] = (counts[backend] ?? 0) + 1;
    }
  }

  private count(key: string, error: boolean, durationMs: Millis): void {
    let s = this.open.get(key);
    if (s === undefined) {
      s = new Second();
      this.open.set(key, s);
    }
    s.count++;
    if (error) s.errors++;
    s.latency.record(durationMs);
  }

  policyChanged(policy: string): void {
    const now = this.clock.now();
    this.periods[this.periods.length - 1].endMs = now;
    this.periods.push({ policy, startMs: now, requests: {} });
    if (this.periods.length > PERIODS_KEPT) this.periods.shift();
    this.changes.push({ tMs: now, policy });
    // Those before the window are never shown again.
    const fromMs = (Math.floor(now / SECOND_MS) - WINDOW_S) * SECOND_MS;
    let stale = 0;
    while (stale < this.changes.length && this.changes[stale].tMs < fromMs) stale++;
    this.changes.splice(0, Math.max(stale, this.changes.length - MARKERS_KEPT));
  }

  window(): LiveWindow {
    this.roll();
    const nowMs = this.clock.now();
    const fromMs = (this.second - WINDOW_S) * SECOND_MS;
    const series: Record<string, readonly SecondPoint[]> = {};
    for (const [key, points] of this.closed) series[key] = points.slice();
    return {
      nowMs,
      series,
      markers: this.changes.filter((c) => c.tMs >= fromMs).map((c) => ({ ...c })),
      periods: this.periods.map((p) => ({ ...p, requests: { ...p.requests } })),
    };
  }

  /** Close every second that time has moved past; seconds with no answers close as zeros. */
  private roll(): void {
    const current = Math.floor(this.clock.now() / SECOND_MS);
    if (current === this.second) return;
    // After a long quiet spell only the last WINDOW_S seconds matter.
    const first = Math.max(this.second, current - WINDOW_S);
    for (const [key, s] of this.open) {
      if (first > this.second) s.close(this.second * SECOND_MS); // fell out of the window unseen
      let points = this.closed.get(key);
      if (points === undefined) {
        points = [];
        this.closed.set(key, points);
      }
      for (let sec = first; sec < current; sec++) points.push(s.close(sec * SECOND_MS));
      if (points.length > WINDOW_S) points.splice(0, points.length - WINDOW_S);
    }
    this.second = current;
  }
}
