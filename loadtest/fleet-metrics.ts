import type { BackendShare, VmUsage } from '../core/report.js';
import { expandVms, type Scenario } from '../core/scenario.js';
import { isSuccess } from './load-plan.js';
import { diffMetrics, histogramQuantile, scrape, sumBy, sumOf, type Sample } from './scrape.js';

/**
 * What a run did to the fleet, read from the metrics (docs/metrics.md) rather than from the load
 * generator: the dispatcher's /metrics and each host's /metrics scraped before and after the
 * measured window, and the difference turned into the report's per-backend and per-VM numbers.
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
  readonly backends: BackendShare[];
  readonly vms: VmUsage[];
  /** Requests the dispatcher answered in the window, backend "none" (refused) included. */
  readonly dispatcherRequests: number;
  /** Non-success answers by code (the dispatcher's `code` label). */
  readonly errorsByCode: Record<string, number>;
  readonly retries: number;
  readonly queueWaitMs?: { mean: number; p99: number };
  readonly timerLatenessMs?: { mean: number; p99: number };
  /** Undefined when the policy pinned no session (hits + misses = 0). */
  readonly stickyHitRatio?: number;
}

const REQUESTS = 'dispatchlab_requests_total';
const QUEUE_WAIT = 'dispatchlab_queue_wait_seconds';
const TIMER_LATENESS = 'dispatchlab_host_timer_lateness_seconds';

/**
 * p99 of the queue wait from the histogram buckets. Interpolating inside the first bucket says
 * "half its bound" even when every wait was 0 (no queue at all), so the answer is also capped by
 * Markov's inequality for non-negative values: at most 1% of them exceed 100 x the (exact) mean.
 */
function queueWaitP99S(d: readonly Sample[], meanWaitS: number): number {
  return Math.min(histogramQuantile(d, QUEUE_WAIT, 0.99) ?? 0, meanWaitS / (1 - 0.99));
}

export function fleetDelta(scenario: Scenario, before: FleetScrape, after: FleetScrape): FleetDelta {
  const d = diffMetrics(before.dispatcher, after.dispatcher);
  const h = diffMetrics(before.hosts, after.hosts);
  const cpu = sumBy(h, 'dispatchlab_vm_cpu_seconds_total', 'vm');
  const steal = sumBy(h, 'dispatchlab_vm_steal_seconds_total', 'vm');
  const vms = expandVms(scenario).map((vm) => ({ vm: vm.name, host: vm.host, serves: vm.serves, cpuSeconds: cpu.get(vm.name) ?? 0, stealSeconds: steal.get(vm.name) ?? 0 }));

  const perBackend = sumBy(d, REQUESTS, 'backend');
  const errorsPerBackend = sumBy(d, REQUESTS, 'backend', { code: (c) => !isSuccess(c) });
  const replicas = vms.filter((v) => v.serves);
  const served = replicas.reduce((acc, v) => acc + (perBackend.get(v.vm) ?? 0), 0);
  const backends = replicas.map((v) => {
    const requests = perBackend.get(v.vm) ?? 0;
    return { id: v.vm, host: v.host, requests, share: served > 0 ? requests / served : 0, errors: errorsPerBackend.get(v.vm) ?? 0, cpuSeconds: v.cpuSeconds, stealSeconds: v.stealSeconds };
  });

  const errorsByCode: Record<string, number> = {};
  for (const [code, n] of sumBy(d, REQUESTS, 'code', { code: (c) => !isSuccess(c) })) if (n > 0) errorsByCode[code] = n;

  const waits = sumOf(d, `${QUEUE_WAIT}_count`);
  const meanWaitS = waits > 0 ? sumOf(d, `${QUEUE_WAIT}_sum`) / waits : 0;
  const lateTimers = sumOf(h, `${TIMER_LATENESS}_count`);
  const hits = sumOf(d, 'dispatchlab_sticky_hits_total');
  const misses = sumOf(d, 'dispatchlab_sticky_misses_total');
  return {
    backends,
    vms,
    dispatcherRequests: sumOf(d, REQUESTS),
    errorsByCode,
    retries: sumOf(d, 'dispatchlab_retries_total'),
    queueWaitMs: waits > 0 ? { mean: meanWaitS * 1000, p99: queueWaitP99S(d, meanWaitS) * 1000 } : undefined,
    stickyHitRatio: hits + misses > 0 ? hits / (hits + misses) : undefined,
    timerLatenessMs:
      lateTimers > 0
        ? { mean: (sumOf(h, `${TIMER_LATENESS}_sum`) / lateTimers) * 1000, p99: (histogramQuantile(h, TIMER_LATENESS, 0.99) ?? 0) * 1000 }
        : undefined,
  };
}
