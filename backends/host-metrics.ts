import { Counter, exponentialBuckets, Gauge, Histogram, Registry } from 'prom-client';
import type { HostSnapshot, HypervisorHost, JobTiming, VmSnapshot, VmStatus } from './hypervisor/types.js';

/**
 * The Prometheus view of one hypervisor host (docs/metrics.md, "Hypervisor hosts"). One Registry
 * per host process, shared by all its VMs' servers, never the global default.
 *
 * Everything the model already accumulates (CPU, steal, completions, traps, swap, status) is read
 * at scrape time from `host.snapshot()` in each metric's `collect()`, so the HTTP path does no
 * bookkeeping for it. Only the service-time histogram needs each completion, since a snapshot keeps
 * no distribution. It observes the time a request spent in the VM (finishedAt - submittedAt, model
 * time), the meaning docs/metrics.md gives `dispatchlab_vm_service_seconds`.
 *
 * A counter is exported through `MonotoneTotals`: never below what the last scrape showed, never
 * negative. prom-client's Counter throws "It is not possible to decrease a counter" on a negative
 * inc(), and that error fails the whole scrape, so one bad figure lost every metric of the host
 * for the rest of a run (issue 17.9). What fed it was the model's steal: a VM's wanted cores were
 * lowered (a cancel) before it was charged up to the second clock reading of the same event, at
 * wanted 0 and got 1; now one event is one model instant and wanted and got change only together
 * (VmState.setRates). In the model a total only grows: every charge adds a rate times the elapsed
 * model time, neither negative (got <= wanted: the water-fill never gives a VM more than its
 * demand). test/hypervisor/totals-monotone.test.ts pins it in the model itself, after every event,
 * under owner returns, migrations, crashes, cancellations and a clock that ticks on every reading.
 * The guard stays for what the model cannot promise: a scrape must never fail, and should a total
 * ever go down Prometheus still sees a counter, not a reset.
 */

export interface HostMetrics {
  readonly registry: Registry;
  /** Record one finished request (called by the replica servers on every successful completion). */
  observeCompletion(timing: JobTiming): void;
  /** Record how late the host's completion timer fired after the model's due time (early counts as 0). */
  observeTimerLateness(lateMs: number): void;
}

const MS_PER_S = 1000;
const VM_STATES: readonly VmStatus[] = ['running', 'suspended', 'migrating', 'crashed'];
const BYTES_PER_MB = 1024 * 1024;

export function createHostMetrics(host: HypervisorHost): HostMetrics {
  const registry = new Registry();
  const registers = [registry];
  const snapshot = scrapeSnapshot(host);

  /** A counter that mirrors a cumulative per-VM total of the snapshot. */
  const vmCounter = (name: string, help: string, value: (vm: VmSnapshot) => number): void => {
    const totals = new MonotoneTotals();
    new Counter({
      name,
      help,
      labelNames: ['host', 'vm'] as const,
      registers,
      collect() {
        this.reset();
        for (const vm of snapshot().vms) this.inc({ host: vm.host, vm: vm.vm }, totals.next(vm.vm, value(vm)));
      },
    });
  };
  const vmGauge = (name: string, help: string, value: (vm: VmSnapshot) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['host', 'vm'] as const,
      registers,
      collect() {
        for (const vm of snapshot().vms) this.set({ host: vm.host, vm: vm.vm }, value(vm));
      },
    });
  };

  vmCounter('dispatchlab_vm_cpu_seconds_total', 'Physical CPU time the VM got.', (vm) => vm.cpuSeconds);
  vmCounter('dispatchlab_vm_steal_seconds_total', 'vCPU time the VM wanted and the hypervisor gave to others.', (vm) => vm.stealSeconds);
  vmCounter('dispatchlab_vm_requests_completed_total', 'Requests the VM finished.', (vm) => vm.completed);
  vmGauge('dispatchlab_vm_running_requests', 'Requests inside the VM now.', (vm) => vm.running);
  vmGauge('dispatchlab_vm_swapped_bytes', 'VM memory swapped out by a Type 2 host.', (vm) => Math.round(vm.swappedMb * BYTES_PER_MB));
  vmGauge('dispatchlab_vm_up', '1 while the VM runs, 0 while suspended, migrating or crashed.', (vm) => (vm.status === 'running' ? 1 : 0));
  new Gauge({
    name: 'dispatchlab_vm_state',
    help: "1 for the VM's current state (running, suspended, migrating, crashed), 0 for the others.",
    labelNames: ['host', 'vm', 'state'] as const,
    registers,
    collect() {
      for (const vm of snapshot().vms) {
        for (const state of VM_STATES) this.set({ host: vm.host, vm: vm.vm, state }, vm.status === state ? 1 : 0);
      }
    },
  });

  const trapTotals = new MonotoneTotals();
  new Counter({
    name: 'dispatchlab_vm_traps_total',
    help: 'Traps, exits or hypercalls (kind="io") and shadow page-table traps (kind="page_table").',
    labelNames: ['host', 'vm', 'kind'] as const,
    registers,
    collect() {
      this.reset();
      for (const vm of snapshot().vms) {
        this.inc({ host: vm.host, vm: vm.vm, kind: 'io' }, trapTotals.next(`${vm.vm}\u0000io`, vm.ioTraps));
        this.inc({ host: vm.host, vm: vm.vm, kind: 'page_table' }, trapTotals.next(`${vm.vm}\u0000pt`, vm.pageTableTraps));
      }
    },
  });
  new Gauge({
    name: 'dispatchlab_host_owner_active',
    help: '1 while the Condor owner is back at the workstation.',
    labelNames: ['host'] as const,
    registers,
    collect() {
      this.set({ host: host.name }, snapshot().ownerActive ? 1 : 0);
    },
  });

  new Gauge({
    name: 'dispatchlab_host_load_cores',
    help: "Cores' worth of the host OS's own busy processes (Type 2 hosts; 0 on Type 1).",
    labelNames: ['host'] as const,
    registers,
    collect() {
      this.set({ host: host.name }, host.hostLoad());
    },
  });

  const serviceSeconds = new Histogram({
    name: 'dispatchlab_vm_service_seconds',
    help: 'Time requests spent in the VM (model time).',
    labelNames: ['host', 'vm'] as const,
    // 1 ms to ~8 s: from a bare request on an idle fast VM to a swapping, suspended one.
    buckets: exponentialBuckets(0.001, 2, 14),
    registers,
  });
  // Pre-create every VM's series so a VM with no completions yet still shows as a zero histogram.
  for (const vm of host.snapshot().vms) serviceSeconds.zero({ host: vm.host, vm: vm.vm });

  const timerLateness = new Histogram({
    name: 'dispatchlab_host_timer_lateness_seconds',
    help: "How much later than the model's due time the host's completion timer fired: what the machine, not the model, added to answers.",
    labelNames: ['host'] as const,
    // 0.1 ms (a quiet loop) to ~1.6 s (a stalled one).
    buckets: exponentialBuckets(0.0001, 2, 15),
    registers,
  });
  timerLateness.zero({ host: host.name });
  const lateness = timerLateness.labels({ host: host.name });

  return {
    registry,
    observeCompletion(timing) {
      serviceSeconds.observe({ host: timing.host, vm: timing.vm }, (timing.finishedAt - timing.submittedAt) / MS_PER_S);
    },
    observeTimerLateness(lateMs) {
      lateness.observe(Math.max(0, lateMs) / MS_PER_S);
    },
  };
}

/** The value each series of a counter exports: the largest seen so far, and 0 for anything not a finite non-negative number. */
export class MonotoneTotals {
  private readonly last = new Map<string, number>();

  next(series: string, value: number): number {
    const exported = Math.max(this.last.get(series) ?? 0, Number.isFinite(value) ? value : 0);
    this.last.set(series, exported);
    return exported;
  }
}

/**
 * One snapshot per scrape: `registry.metrics()` calls every metric's collect() synchronously in one
 * turn of the event loop, so caching until the next microtask makes all metrics of a scrape agree
 * (and costs one snapshot, not one per metric).
 */
function scrapeSnapshot(host: HypervisorHost): () => HostSnapshot {
  let cached: HostSnapshot | undefined;
  return () => {
    if (cached === undefined) {
      cached = host.snapshot();
      queueMicrotask(() => {
        cached = undefined;
      });
    }
    return cached;
  };
}
