import type { Clock } from '../core/clock.js';
import { expandVms, type Scenario } from '../core/scenario.js';
import type { HypervisorHost, VmStatus } from '../backends/hypervisor/types.js';
import { scrape, type Sample } from '../loadtest/scrape.js';
import { AdminError } from './admin-api.js';
import { listNames } from '../core/names.js';

/**
 * The fleet as the dashboard shows it: every host of the scenario with its cores and every VM on
 * it (replicas and neighbours), their technique and paging, and what they do now (state, requests
 * inside, CPU and steal in cores). What a VM is comes from the scenario; what it does comes from
 * a FleetSource: the host models themselves when they run in this process (`dispatchlab up`), or
 * each host's /metrics when they run as `dispatchlab host` processes. CPU and steal are cumulative
 * in both, so the tracker turns them into rates between two readings.
 */

export interface VmReading {
  readonly vm: string;
  readonly status: VmStatus;
  readonly running: number;
  readonly cpuSeconds: number;
  readonly stealSeconds: number;
}

export interface HostReading {
  readonly host: string;
  readonly hostLoad: number;
  readonly ownerActive: boolean;
  readonly vms: readonly VmReading[];
}

/** The model's runtime controls (HypervisorHost), by VM or host name; errors are AdminErrors. */
export interface FleetControls {
  crash(vm: string): void;
  restore(vm: string): void;
  ownerReturns(vm: string, mode: 'suspend' | 'migrate', forMs: number): void;
  setHostLoad(host: string, cores: number): void;
}

export interface FleetSource {
  /** Hosts that could not be read are left out (the view marks them unreachable). */
  read(): Promise<HostReading[]>;
  /** Only where the models run in this process. */
  readonly controls?: FleetControls;
}

export interface VmView {
  readonly name: string;
  readonly serves: boolean;
  readonly virtualization: string;
  readonly mmu: string;
  readonly vcpus: number;
  readonly memoryMb: number;
  readonly weight: number;
  readonly harvested: boolean;
  /** Undefined while the host is unreachable. */
  readonly status?: VmStatus;
  readonly running?: number;
  /** Physical cores the VM got, and the vCPU demand it did not get, averaged since the last reading. */
  readonly cpuCores?: number;
  readonly stealCores?: number;
}

export interface HostView {
  readonly name: string;
  readonly hypervisor: 'type1' | 'type2';
  readonly cores: number;
  readonly memoryMb: number;
  readonly onOwnerReturn: 'suspend' | 'migrate';
  readonly reachable: boolean;
  readonly hostLoad?: number;
  readonly ownerActive?: boolean;
  readonly vms: readonly VmView[];
}

export interface FleetView {
  readonly hosts: readonly HostView[];
  /** Whether the fault controls work here (the models run in this process). */
  readonly controls: boolean;
}

/** Readings straight from host models in this process. */
export function localFleetSource(hosts: readonly HypervisorHost[]): FleetSource {
  const byName = new Map(hosts.map((h) => [h.name, h]));
  const byVm = new Map(hosts.flatMap((h) => h.snapshot().vms.map((vm) => [vm.vm, h] as const)));
  const hostOf = (vm: string): HypervisorHost => {
    const host = byVm.get(vm);
    if (host === undefined) throw new AdminError(404, `no VM "${vm}" in this fleet (VMs: ${listNames(byVm.keys())})`);
    return host;
  };
  // A model refuses a bad value (a Type 1 host load, a visit of 0 ms) with a plain Error: a 400.
  return {
    read: async () =>
      hosts.map((h) => {
        const snap = h.snapshot();
        return { host: h.name, hostLoad: h.hostLoad(), ownerActive: snap.ownerActive, vms: snap.vms };
      }),
    controls: {
      crash: (vm) => hostOf(vm).crash(vm),
      restore: (vm) => hostOf(vm).restore(vm),
      ownerReturns: (vm, mode, forMs) => hostOf(vm).ownerReturns(vm, mode, forMs),
      setHostLoad(host, cores) {
        const model = byName.get(host);
        if (model === undefined) throw new AdminError(404, `no host "${host}" in this fleet (hosts: ${listNames(byName.keys())})`);
        model.setHostLoad(cores);
      },
    },
  };
}

function byLabel(samples: readonly Sample[], name: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) if (s.name === name && s.labels[label] !== undefined) out.set(s.labels[label], s.value);
  return out;
}

/** A host slower than this to answer shows as unreachable in this frame, rather than delaying it. */
const SCRAPE_TIMEOUT_MS = 800;

/** Readings from each host process's /metrics (docs/metrics.md, "Hypervisor hosts"): no controls. */
export function remoteFleetSource(metricsUrls: ReadonlyMap<string, string>): FleetSource {
  const readHost = async (host: string, url: string): Promise<HostReading | undefined> => {
    let samples: Sample[];
    try {
      samples = await scrape(url, SCRAPE_TIMEOUT_MS);
    } catch {
      return undefined;
    }
    const own = samples.filter((s) => s.labels.host === host);
    const status = new Map<string, VmStatus>();
    for (const s of own) if (s.name === 'dispatchlab_vm_state' && s.value === 1) status.set(s.labels.vm, s.labels.state as VmStatus);
    const running = byLabel(own, 'dispatchlab_vm_running_requests', 'vm');
    const cpu = byLabel(own, 'dispatchlab_vm_cpu_seconds_total', 'vm');
    const steal = byLabel(own, 'dispatchlab_vm_steal_seconds_total', 'vm');
    return {
      host,
      hostLoad: byLabel(own, 'dispatchlab_host_load_cores', 'host').get(host) ?? 0,
      ownerActive: byLabel(own, 'dispatchlab_host_owner_active', 'host').get(host) === 1,
      vms: [...status].map(([vm, st]) => ({ vm, status: st, running: running.get(vm) ?? 0, cpuSeconds: cpu.get(vm) ?? 0, stealSeconds: steal.get(vm) ?? 0 })),
    };
  };
  return {
    read: async () => (await Promise.all([...metricsUrls].map(([host, url]) => readHost(host, url)))).filter((r): r is HostReading => r !== undefined),
  };
}

/** Joins the scenario's fleet with the latest readings; CPU and steal become rates between readings. */
export class FleetTracker {
  private last = new Map<string, { atMs: number; cpuSeconds: number; stealSeconds: number }>();

  constructor(
    private readonly scenario: Scenario,
    private readonly source: FleetSource,
    private readonly clock: Clock,
  ) {}

  get controls(): FleetControls | undefined {
    return this.source.controls;
  }

  async view(): Promise<FleetView> {
    const readings = new Map((await this.source.read()).map((r) => [r.host, r]));
    const atMs = this.clock.now();
    const vmsByHost = new Map<string, VmView[]>();
    const next = new Map<string, { atMs: number; cpuSeconds: number; stealSeconds: number }>();
    for (const spec of expandVms(this.scenario)) {
      const reading = readings.get(spec.host)?.vms.find((v) => v.vm === spec.name);
      let live: Partial<VmView> = {};
      if (reading !== undefined) {
        const before = this.last.get(spec.name);
        const dtS = before === undefined ? 0 : (atMs - before.atMs) / 1000;
        const rate = (now: number, then: number | undefined): number => (dtS > 0 && then !== undefined ? Math.max(0, (now - then) / dtS) : 0);
        live = {
          status: reading.status,
          running: reading.running,
          cpuCores: rate(reading.cpuSeconds, before?.cpuSeconds),
          stealCores: rate(reading.stealSeconds, before?.stealSeconds),
        };
        next.set(spec.name, { atMs, cpuSeconds: reading.cpuSeconds, stealSeconds: reading.stealSeconds });
      }
      const view: VmView = {
        name: spec.name,
        serves: spec.serves,
        virtualization: spec.virtualization,
        mmu: spec.mmu,
        vcpus: spec.vcpus,
        memoryMb: spec.memoryMb,
        weight: spec.weight,
        harvested: spec.harvested,
        ...live,
      };
      const list = vmsByHost.get(spec.host);
      if (list === undefined) vmsByHost.set(spec.host, [view]);
      else list.push(view);
    }
    // Readings closer together than this give noisy rates: keep the older baseline.
    for (const [vm, sample] of next) {
      const before = this.last.get(vm);
      if (before === undefined || atMs - before.atMs >= MIN_RATE_INTERVAL_MS) this.last.set(vm, sample);
    }
    return {
      controls: this.source.controls !== undefined,
      hosts: this.scenario.hosts.map((h) => {
        const reading = readings.get(h.name);
        return {
          name: h.name,
          hypervisor: h.hypervisor,
          cores: h.cores,
          memoryMb: h.memoryMb,
          onOwnerReturn: h.onOwnerReturn,
          reachable: reading !== undefined,
          hostLoad: reading?.hostLoad,
          ownerActive: reading?.ownerActive,
          vms: vmsByHost.get(h.name) ?? [],
        };
      }),
    };
  }
}

const MIN_RATE_INTERVAL_MS = 500;
