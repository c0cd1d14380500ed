import { createLatencyRecorder, createLatencyTimeline, type LatencyTimeline } from './latency.js';
import { jainIndex, maxOverMean, type BackendShare, type PolicyRun } from './report.js';
import { isSuccess, type RequestEvents } from './request-events.js';
import type { BackendId, Millis } from './types.js';

/**
 * The one accumulator of a policy run's request counts and latencies, in both modes: the live
 * dispatcher and the simulator's driver feed it the same events (core/request-events.ts), and it
 * turns them into the report's request fields exactly as core/report.ts defines them. A request
 * counts when it arrived in the measured window (at or after its start, `startWindow`); every later
 * event of a request that arrived before it (a warm-up request still in flight) is ignored. The
 * latency-over-time timeline alone covers the warm-up too (from `originMs`, the run's start), so a
 * chart can show it, shaded, before the window.
 */

/** The report fields this accumulator owns (the rest of a PolicyRun is the fleet's CPU, the label, stickiness). */
export type RequestFields = Pick<
  PolicyRun,
  'requests' | 'errors' | 'dropped' | 'throughputRps' | 'latencyMs' | 'backends' | 'imbalance' | 'jain' | 'retries' | 'queueWaitMs' | 'errorsByCode' | 'timeline' | 'timelineWarmupMs' | 'cdf'
>;

class BackendCounts {
  attempts = 0;
  failures = 0;
  constructor(
    readonly id: BackendId,
    readonly host: string,
    readonly kind: string | undefined,
  ) {}
}

/** A timeline bucket that gives 20 to 100 points over the window, rounded to 1/2/5 x 10^k ms. */
export function timelineBucketMs(windowMs: Millis): Millis {
  const raw = Math.max(1, windowMs / 100);
  const decade = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const step of [1, 2, 5, 10]) if (raw <= step * decade) return step * decade;
  return 10 * decade;
}

export class RunAccumulator implements RequestEvents {
  private readonly latency = createLatencyRecorder();
  private readonly queueWait = createLatencyRecorder();
  private timeline: LatencyTimeline;
  /** Every backend's counts in report order, which is the order the Balancers number them (backendIndex), and by id. */
  private readonly backendList: BackendCounts[] = [];
  private readonly backends = new Map<BackendId, BackendCounts>();
  private readonly codes = new Map<string, number>();
  private requests = 0;
  private ok = 0;
  private errors = 0;
  private retries = 0;
  private droppedArrivals = 0;
  /** Nothing is measured until the window starts. */
  private windowStartMs: Millis = Infinity;

  /**
   * @param replicas the run's backends, in report order (backends added later are appended).
   * @param originMs the run's start (its warm-up's), on the clock the events' times are read on.
   * @param bucketMs the timeline's bucket.
   */
  constructor(
    replicas: ReadonlyArray<{ readonly id: BackendId; readonly host?: string; readonly kind?: string }>,
    private originMs: Millis,
    private readonly bucketMs: Millis,
  ) {
    for (const r of replicas) this.addBackend(r.id, r.host ?? '', r.kind);
    this.timeline = createLatencyTimeline(bucketMs, originMs);
  }

  /**
   * The run starts at `atMs` instead, before any of its requests: live, the accumulator is given to
   * the dispatcher before the fleet has started, and the run starts when the load does.
   */
  startRun(atMs: Millis): void {
    this.originMs = atMs;
    this.timeline = createLatencyTimeline(this.bucketMs, atMs);
  }

  /** The measured window starts now (the warm-up is over): requests arriving from here on count. */
  startWindow(atMs: Millis): void {
    this.windowStartMs = atMs;
  }

  private addBackend(id: BackendId, host: string, kind?: string): BackendCounts {
    const b = new BackendCounts(id, host, kind);
    this.backends.set(id, b);
    this.backendList.push(b);
    return b;
  }

  /** By the Balancer's index when its entry there has the id (always, in a simulation), else by id. */
  private backend(id: BackendId, index: number): BackendCounts {
    const list = this.backendList;
    if (index >= 0 && index < list.length) {
      const b = list[index];
      if (b.id === id) return b;
    }
    return this.backends.get(id) ?? this.addBackend(id, '');
  }

  arrived(arrivedAtMs: Millis): void {
    if (arrivedAtMs >= this.windowStartMs) this.requests++;
  }

  admitted(arrivedAtMs: Millis, backend: BackendId, queueWaitMs: Millis, attempt: number, backendIndex: number): void {
    if (arrivedAtMs < this.windowStartMs) return;
    this.backend(backend, backendIndex).attempts++;
    this.queueWait.record(queueWaitMs);
    if (attempt > 1) this.retries++;
  }

  attemptEnded(arrivedAtMs: Millis, backend: BackendId, failed: boolean, backendIndex: number): void {
    if (failed && arrivedAtMs >= this.windowStartMs) this.backend(backend, backendIndex).failures++;
  }

  answered(arrivedAtMs: Millis, _backend: BackendId, code: string, latencyMs: Millis): void {
    const success = isSuccess(code);
    if (success && arrivedAtMs >= this.originMs) this.timeline.record(arrivedAtMs, latencyMs);
    if (arrivedAtMs < this.windowStartMs) return;
    if (success) {
      this.ok++;
      this.latency.record(latencyMs);
    } else {
      this.errors++;
      this.codes.set(code, (this.codes.get(code) ?? 0) + 1);
    }
  }

  /** Arrivals of the window the open-loop generator could not send (live only: the simulator never drops one). */
  dropped(count: number): void {
    this.droppedArrivals += count;
  }

  /** The report's request fields, for a measured window `windowMs` long. */
  fields(windowMs: Millis): RequestFields {
    const list = this.backendList;
    const counts = list.map((b) => b.attempts);
    const attempts = counts.reduce((a, b) => a + b, 0);
    const backends: BackendShare[] = list.map((b) => ({
      id: b.id,
      host: b.host,
      ...(b.kind === undefined ? {} : { kind: b.kind }),
      requests: b.attempts,
      share: attempts === 0 ? 0 : b.attempts / attempts,
      errors: b.failures,
    }));
    const errorsByCode = Object.fromEntries(this.codes);
    if (this.droppedArrivals > 0) errorsByCode.dropped = this.droppedArrivals;
    return {
      requests: this.requests + this.droppedArrivals,
      errors: this.errors + this.droppedArrivals,
      dropped: this.droppedArrivals,
      throughputRps: windowMs > 0 ? (this.ok * 1000) / windowMs : 0,
      latencyMs: this.latency.summary(),
      backends,
      imbalance: maxOverMean(counts),
      jain: jainIndex(counts),
      retries: this.retries,
      queueWaitMs: { mean: this.queueWait.meanMs, p99: this.queueWait.percentile(99) },
      errorsByCode,
      timeline: this.timeline.points(),
      timelineWarmupMs: Number.isFinite(this.windowStartMs) ? this.windowStartMs - this.originMs : 0,
      cdf: this.latency.cdf(),
    };
  }
}
