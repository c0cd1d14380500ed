import { createLatencyRecorder, createLatencyTimeline, type LatencyTimeline } from '../core/latency.js';
import { jainIndex, maxOverMean, type BackendShare, type PolicyRun, type VmUsage } from '../core/report.js';
import type { Millis } from '../core/types.js';
import type { Fleet } from '../backends/hypervisor/types.js';

/**
 * What one simulated policy run measured, in the report's terms (core/report.ts). Only requests
 * that arrived after the warmup count; CPU and steal seconds are the fleet's counters at the end
 * minus their values when the warmup ended.
 */

interface CpuCounters {
  readonly host: string;
  readonly serves: boolean;
  readonly cpuSeconds: number;
  readonly stealSeconds: number;
}

/** Every VM's CPU and steal counters now. */
export function fleetCpuCounters(fleet: Fleet): Map<string, CpuCounters> {
  const out = new Map<string, CpuCounters>();
  for (const host of fleet.hosts) {
    for (const vm of host.snapshot().vms) {
      out.set(vm.vm, { host: vm.host, serves: vm.serves, cpuSeconds: vm.cpuSeconds, stealSeconds: vm.stealSeconds });
    }
  }
  return out;
}

/** A timeline bucket that gives 20 to 100 points over the expected window, rounded to 1/2/5 x 10^k ms. */
export function timelineBucketMs(windowMs: Millis): Millis {
  const raw = Math.max(1, windowMs / 100);
  const decade = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const step of [1, 2, 5, 10]) if (raw <= step * decade) return step * decade;
  return 10 * decade;
}

export class RunStats {
  readonly latency = createLatencyRecorder();
  readonly queueWait = createLatencyRecorder();
  private readonly timeline: LatencyTimeline;
  private readonly backendRequests: Float64Array;
  private readonly backendErrors: Float64Array;
  private readonly errorsByCode: Record<string, number> = {};
  errors = 0;
  retries = 0;
  stickyHits = 0;
  stickyMisses = 0;

  constructor(
    private readonly replicas: ReadonlyArray<{ readonly id: string; readonly host: string }>,
    warmupMs: Millis,
    timelineBucketMs: Millis,
  ) {
    this.backendRequests = new Float64Array(replicas.length);
    this.backendErrors = new Float64Array(replicas.length);
    this.timeline = createLatencyTimeline(timelineBucketMs, warmupMs);
  }

  /** A measured request answered by the replica at `index` (its position in `replicas`). */
  completed(index: number, nowMs: Millis, latencyMs: Millis): void {
    this.latency.record(latencyMs);
    this.timeline.record(nowMs, latencyMs);
    this.backendRequests[index]++;
  }

  backendError(index: number): void {
    this.backendErrors[index]++;
  }

  /** A request that got no response: refused by the dispatcher (503; 500 when the policy failed) or out of retries (502). */
  failed(code: string): void {
    this.errors++;
    this.errorsByCode[code] = (this.errorsByCode[code] ?? 0) + 1;
  }

  toPolicyRun(opts: {
    label: string;
    sticky: boolean;
    measuredWindowMs: Millis;
    cpuAtWarmup: ReadonlyMap<string, CpuCounters>;
    cpuAtEnd: ReadonlyMap<string, CpuCounters>;
  }): PolicyRun {
    const counts = Array.from(this.backendRequests);
    const total = counts.reduce((a, b) => a + b, 0);
    const cpuDelta = (vm: string): { cpuSeconds: number; stealSeconds: number } => {
      const end = opts.cpuAtEnd.get(vm);
      const start = opts.cpuAtWarmup.get(vm);
      return {
        cpuSeconds: (end?.cpuSeconds ?? 0) - (start?.cpuSeconds ?? 0),
        stealSeconds: (end?.stealSeconds ?? 0) - (start?.stealSeconds ?? 0),
      };
    };
    const backends: BackendShare[] = this.replicas.map((r, i) => ({
      id: r.id,
      host: r.host,
      requests: counts[i],
      share: total === 0 ? 0 : counts[i] / total,
      errors: this.backendErrors[i],
      ...cpuDelta(r.id),
    }));
    const vms: VmUsage[] = [...opts.cpuAtEnd].map(([vm, c]) => ({ vm, host: c.host, serves: c.serves, ...cpuDelta(vm) }));
    const stickyTotal = this.stickyHits + this.stickyMisses;
    return {
      policy: opts.label,
      requests: this.latency.count + this.errors,
      errors: this.errors,
      throughputRps: opts.measuredWindowMs > 0 ? (this.latency.count * 1000) / opts.measuredWindowMs : 0,
      latencyMs: this.latency.summary(),
      backends,
      vms,
      imbalance: maxOverMean(counts),
      jain: jainIndex(counts),
      ...(opts.sticky ? { stickyHitRatio: stickyTotal === 0 ? 1 : this.stickyHits / stickyTotal } : {}),
      retries: this.retries,
      queueWaitMs: { mean: this.queueWait.meanMs, p99: this.queueWait.percentile(99) },
      errorsByCode: { ...this.errorsByCode },
      timeline: this.timeline.points(),
      cdf: this.latency.cdf(),
    };
  }
}
