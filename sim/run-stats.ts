import { type PolicyRun, stickyHitRatio, type VmUsage } from '../core/report.js';
import { RunAccumulator } from '../core/run-accumulator.js';
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

/**
 * The request fields come from the run's accumulator (core/run-accumulator.ts), which the driver
 * feeds the same request events as the live dispatcher; what only the simulator knows directly
 * (the fleet's CPU counters, sticky hits from the Balancer's observer) is added here.
 */
export class RunStats {
  readonly events: RunAccumulator;
  stickyHits = 0;
  stickyMisses = 0;

  constructor(replicas: ReadonlyArray<{ readonly id: string; readonly host: string; readonly kind?: string }>, warmupMs: Millis, bucketMs: Millis) {
    // The run starts at 0 on its VirtualClock; its window when the warm-up ends.
    this.events = new RunAccumulator(replicas, 0, bucketMs);
    this.events.startWindow(warmupMs);
  }

  toPolicyRun(opts: {
    label: string;
    measuredWindowMs: Millis;
    cpuAtWarmup: ReadonlyMap<string, CpuCounters>;
    cpuAtEnd: ReadonlyMap<string, CpuCounters>;
  }): PolicyRun {
    const cpuDelta = (vm: string): { cpuSeconds: number; stealSeconds: number } => {
      const end = opts.cpuAtEnd.get(vm);
      const start = opts.cpuAtWarmup.get(vm);
      return {
        cpuSeconds: (end?.cpuSeconds ?? 0) - (start?.cpuSeconds ?? 0),
        stealSeconds: (end?.stealSeconds ?? 0) - (start?.stealSeconds ?? 0),
      };
    };
    const fields = this.events.fields(opts.measuredWindowMs);
    const vms: VmUsage[] = [...opts.cpuAtEnd].map(([vm, c]) => ({ vm, host: c.host, serves: c.serves, ...cpuDelta(vm) }));
    const sticky = stickyHitRatio(this.stickyHits, this.stickyMisses);
    return {
      policy: opts.label,
      ...fields,
      backends: fields.backends.map((b) => ({ ...b, ...cpuDelta(b.id) })),
      vms,
      ...(sticky !== undefined ? { stickyHitRatio: sticky } : {}),
    };
  }
}
