import { parseScenario, type Scenario, type VirtualizationTechnique } from '../core/scenario.js';

/**
 * A generated data-centre fleet (issue 19), for `npm run bench:sim` and the simulator's digest
 * test: hosts of 16 cores carrying `vmsPerHost` VMs each (about 20 in a data centre), every third
 * host a Type 2 host with 2 cores of host load of its own, the VMs of each host spread over four
 * virtualization techniques with 1 or 2 vCPUs (more vCPUs than cores, so busy hosts are
 * contended and share by weight), up to two request classes (one exponential, one heavy-tailed:
 * lognormal with sigma 1.5) and `sessions` client sessions. Open-loop Poisson arrivals at a rate
 * that keeps the cores about `utilisation` busy on native CPU time (the techniques' overheads
 * add a little on top), counting a host's cores only up to its VMs' vCPUs.
 */
export interface DatacentreOptions {
  readonly vms: number;
  readonly vmsPerHost?: number;
  /** 1: the exponential class only; 2: it and the heavy-tailed one. */
  readonly classes?: 1 | 2;
  readonly sessions?: number;
  readonly utilisation?: number;
  readonly seed?: number;
  readonly policy?: string;
}

const HOST_CORES = 16;
const TYPE2_HOST_LOAD_CORES = 2;
const VM_MEMORY_MB = 2048;
/** Per host, the VMs go round these, in this order: technique, vCPUs, weight. */
const VM_KINDS: ReadonlyArray<{ virtualization: VirtualizationTechnique; vcpus: number; weight: number }> = [
  { virtualization: 'hardware-assisted', vcpus: 2, weight: 2 },
  { virtualization: 'paravirtual', vcpus: 1, weight: 1 },
  { virtualization: 'container', vcpus: 1, weight: 1 },
  { virtualization: 'binary-translation', vcpus: 2, weight: 1 },
];

const PAGE = { name: 'page', route: '/', cpuMs: 5, ioOps: 10, pageTableUpdates: 20, memoryMb: 2, service: 'exponential' } as const;
const REPORT = { name: 'report', route: '/report', cpuMs: 20, ioOps: 40, pageTableUpdates: 80, memoryMb: 8, service: 'lognormal', sigma: 1.5 } as const;
const REPORT_SHARE = 0.2;

export function datacentreScenario(opts: DatacentreOptions): Scenario {
  const perHost = opts.vmsPerHost ?? 20;
  const hosts = Math.ceil(opts.vms / perHost);
  const classes = opts.classes ?? 2;
  const utilisation = opts.utilisation ?? 0.6;
  // 64 GB, or enough for every VM's maximum on hosts of more than 32 VMs: no host overcommits.
  const memoryMb = Math.max(65536, perHost * VM_MEMORY_MB);
  const hostSpecs = Array.from({ length: hosts }, (_, h) => {
    const type2 = h % 3 === 2;
    return { name: `dc${h}`, hypervisor: type2 ? 'type2' : 'type1', cores: HOST_CORES, memoryMb, hostLoad: type2 ? TYPE2_HOST_LOAD_CORES : 0 };
  });
  const vmSpecs = [];
  let cores = 0;
  for (let h = 0; h < hosts; h++) {
    const onHost = Math.min(perHost, opts.vms - h * perHost);
    let vcpus = 0;
    // One scenario entry per technique and host (count = how many of the host's VMs are of it).
    for (let k = 0; k < VM_KINDS.length; k++) {
      const count = Math.floor(onHost / VM_KINDS.length) + (k < onHost % VM_KINDS.length ? 1 : 0);
      if (count === 0) continue;
      vcpus += count * VM_KINDS[k].vcpus;
      vmSpecs.push({ name: `vm-${h}-${k}`, count, host: `dc${h}`, memoryMb: VM_MEMORY_MB, residentMb: 1024, ...VM_KINDS[k] });
    }
    // What the host can run: its cores left by the host's own load, or fewer when its VMs have fewer vCPUs.
    cores += Math.min(HOST_CORES - hostSpecs[h].hostLoad, vcpus);
  }
  const meanCpuMs = classes === 1 ? PAGE.cpuMs : (1 - REPORT_SHARE) * PAGE.cpuMs + REPORT_SHARE * REPORT.cpuMs;
  return parseScenario({
    name: `datacentre-${opts.vms}`,
    seed: opts.seed ?? 1,
    hosts: hostSpecs,
    vms: vmSpecs,
    workload: {
      classes: classes === 1 ? [{ ...PAGE, share: 1 }] : [{ ...PAGE, share: 1 - REPORT_SHARE }, { ...REPORT, share: REPORT_SHARE }],
      sessions: opts.sessions ?? 100_000,
      arrival: { rateRps: (utilisation * cores * 1000) / meanCpuMs },
    },
    policies: [opts.policy ?? 'power-of-two'],
    duration: '1h',
    warmup: 0,
  });
}
