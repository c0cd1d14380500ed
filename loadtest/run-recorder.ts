import { createLatencyRecorder, createLatencyTimeline, type LatencyTimeline } from '../core/latency.js';
import type { Millis } from '../core/types.js';
import { isSuccess } from '../core/request-events.js';
import { LATE_SEND_MS, type LoadPhase, type LoadResult, type LoadTick } from './load-plan.js';

/** Timeline bucket for the "latency over time" chart: one point per second of the window. */
const TIMELINE_BUCKET_MS = 1000;
const CDF_POINTS = 80;

/**
 * The counts and latencies of one phase of a load run, shared by both generators. Latencies go to
 * an HDR recorder (µs precision, core/latency.ts); the timeline is keyed by send time relative to
 * the phase's start, so a queue that builds up shows when it built up.
 */
export class RunRecorder {
  private readonly latency = createLatencyRecorder();
  private readonly sendLag = createLatencyRecorder();
  private late = 0;
  private readonly timeline: LatencyTimeline;
  private readonly codes = new Map<string, number>();
  private done = 0;
  private errors = 0;
  private lastEndMs: Millis;
  private lastTick = { atMs: 0, done: 0 };

  constructor(
    readonly phase: LoadPhase,
    private readonly startMs: Millis,
  ) {
    this.timeline = createLatencyTimeline(TIMELINE_BUCKET_MS);
    this.lastEndMs = startMs;
    this.lastTick = { atMs: startMs, done: 0 };
  }

  /** A finished request: its code, and for answered ones when it was sent and when it ended (latency and timeline count successes only). */
  record(code: string, sentMs?: Millis, endMs?: Millis): void {
    this.codes.set(code, (this.codes.get(code) ?? 0) + 1);
    this.done++;
    if (!isSuccess(code)) this.errors++;
    // Latency over failed requests is not a latency (a fast 503 would pull it down): successes only.
    if (sentMs !== undefined && endMs !== undefined && isSuccess(code)) {
      this.latency.record(endMs - sentMs);
      this.timeline.record(sentMs - this.startMs, endMs - sentMs);
    }
    if (endMs !== undefined && endMs > this.lastEndMs) this.lastEndMs = endMs;
  }

  /** An open-loop arrival was sent `lagMs` after its intended time. */
  sent(lagMs: Millis): void {
    this.sendLag.record(Math.max(0, lagMs));
    if (lagMs >= LATE_SEND_MS) this.late++;
  }

  tick(nowMs: Millis, inFlight: number, phase: LoadPhase = this.phase): LoadTick {
    const dtMs = nowMs - this.lastTick.atMs;
    const rateRps = dtMs > 0 ? ((this.done - this.lastTick.done) * 1000) / dtMs : 0;
    this.lastTick = { atMs: nowMs, done: this.done };
    return { phase, elapsedMs: nowMs - this.startMs, requests: this.done, errors: this.errors, inFlight, rateRps };
  }

  result(): LoadResult {
    return {
      requests: this.done,
      codes: Object.fromEntries(this.codes),
      errors: this.errors,
      elapsedMs: this.lastEndMs - this.startMs,
      latencyMs: this.latency.summary(),
      cdf: this.latency.cdf(CDF_POINTS),
      timeline: this.timeline.points(),
      ...(this.sendLag.count > 0 ? { late: this.late, sendLagMs: { p99: this.sendLag.percentile(99), max: this.sendLag.summary().max } } : {}),
    };
  }
}
