import { stickyHitRatio, type VmUsage } from '../core/report.js';
import { expandVms, type Scenario } from '../core/scenario.js';
import { diffMetrics, histogramQuantile, scrape, sumBy, sumOf, type Sample } from './scrape.js';

/**
 * What a run did to the fleet's VMs, read from the metrics (docs/metrics.md): each host's /metrics
 * (CPU and steal seconds) and the dispatcher's (sticky hits) scraped before and after the measured
 * window. The request counts come from the request events instead (core/run-accumulator.ts).
 */

export interface FleetScrape {
  readonly dispatcher: readonly Sample[];
  /** All hosts' samples together: VM names are unique across the fleet. */
  readonly hosts: readonly Sample[];
}

export interface FleetEndpoints {
  readonly dispatcherMetricsUrl: string;
  readonly hostMetricsUrls: readonly string[];
}

export async function scrapeFleet(endpoints: FleetEndpoints): Promise<FleetScrape> {
  const [dispatcher, ...hosts] = await Promise.all([scrape(endpoints.dispatcherMetricsUrl), ...endpoints.hostMetricsUrls.map((url) => scrape(url))]);
  return { dispatcher, hosts: hosts.flat() };
}

export interface FleetDelta {
  readonly vms: VmUsage[];
  readonly timerLatenessMs?: { mean: number; p99: number };
  /** Mean time in the VMs per completed request, model time; undefined when none completed. */
  readonly modelMeanMs?: number;
  /** Undefined when the policy pinned no session (hits + misses = 0). */
  readonly stickyHitRatio?: number;
}

const TIMER_LATENESS = 'dispatchlab_host_timer_lateness_seconds';
const VM_SERVICE = 'dispatchlab_vm_service_seconds';

export function fleetDelta(scenario: Scenario, before: FleetScrape, after: FleetScrape): FleetDelta {
  const d = diffMetrics(before.dispatcher, after.dispatcher);
  const h = diffMetrics(before.hosts, after.hosts);
  const cpu = sumBy(h, 'dispatchlab_vm_cpu_seconds_total', 'vm');
  const steal = sumBy(h, 'dispatchlab_vm_steal_seconds_total', 'vm');
  const vms = expandVms(scenario).map((vm) => ({ vm: vm.name, host: vm.host, serves: vm.serves, cpuSeconds: cpu.get(vm.name) ?? 0, stealSeconds: steal.get(vm.name) ?? 0 }));
  const hits = sumOf(d, 'dispatchlab_sticky_hits_total');
  const misses = sumOf(d, 'dispatchlab_sticky_misses_total');
  const lateTimers = sumOf(h, `${TIMER_LATENESS}_count`);
  const completed = sumOf(h, `${VM_SERVICE}_count`);
  return {
    vms,
    stickyHitRatio: stickyHitRatio(hits, misses),
    timerLatenessMs:
      lateTimers > 0
        ? { mean: (sumOf(h, `${TIMER_LATENESS}_sum`) / lateTimers) * 1000, p99: (histogramQuantile(h, TIMER_LATENESS, 0.99) ?? 0) * 1000 }
        : undefined,
    modelMeanMs: completed > 0 ? (sumOf(h, `${VM_SERVICE}_sum`) / completed) * 1000 : undefined,
  };
}
