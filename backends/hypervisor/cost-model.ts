/**
 * The virtualization cost model: how a request's native cost (RequestCost, what it would take on
 * bare metal) becomes VM CPU time, by virtualization technique, memory-virtualization mode and
 * hypervisor type. Every factor is scenario data (`costModel:` overrides), with the defaults below;
 * docs/model.md explains each one to a student and lists the same sources.
 *
 *   serviceCpuMs = cpuMs * technique.cpuFactor * mmu.cpuFactor * (type2 ? type2.cpuFactor : 1)
 *                + ioOps * technique.ioOpUs / 1000
 *                + pageTableUpdates * mmu.ptUpdateUs / 1000
 *
 * The defaults are representative magnitudes chosen to respect the orderings the cited papers
 * report, not measurements of one machine: on an I/O-heavy request container < paravirtual <
 * hardware-assisted <= binary-translation < emulation, and on a page-table-heavy request shadow
 * paging costs more than nested paging. Containers and emulation have no guest MMU of the kind
 * shadow/nested paging virtualizes (a container uses the host's page tables; QEMU's TCG has a
 * software MMU inside its cpuFactor), so the MMU mode does not apply to them.
 */
import type { CostModelOverrides, HypervisorType, MmuMode, VirtualizationTechnique, VmSpec } from '../../core/scenario.js';
import type { RequestCost } from './types.js';

export interface TechniqueCost {
  /** Multiplier on native CPU time for ordinary (non-sensitive) code. */
  readonly cpuFactor: number;
  /** Cost of one sensitive operation: a trap-and-emulate exit, a translated op, a hypercall or a syscall. */
  readonly ioOpUs: number;
}

export interface MmuCost {
  /** Multiplier on native CPU time: TLB misses are dearer under nested paging's 2-D walk. */
  readonly cpuFactor: number;
  /** Cost of one guest page-table write: a trap each under shadow paging. */
  readonly ptUpdateUs: number;
}

export interface CostModel {
  readonly techniques: Readonly<Record<VirtualizationTechnique, TechniqueCost>>;
  readonly mmu: Readonly<Record<MmuMode, MmuCost>>;
  /** Paging a swapped-out megabyte back in on an overcommitted host. */
  readonly swap: { readonly msPerMb: number };
  /** Condor migration downtime: baseMs + msPerGb * VM memory in GB. */
  readonly migration: { readonly baseMs: number; readonly msPerGb: number };
  /** A Type 2 VMM is a host process: world switches and host scheduling cost on top. */
  readonly type2: { readonly cpuFactor: number };
}

export const DEFAULT_COST_MODEL: CostModel = {
  techniques: {
    // Felter et al., "An updated performance comparison of virtual machines and Linux containers",
    // IBM Research / ISPASS 2015: Docker matches native CPU; a sensitive op is a plain syscall.
    container: { cpuFactor: 1.0, ioOpUs: 0.5 },
    // Barham et al., "Xen and the art of virtualization", SOSP 2003: para-virtualized guests run
    // within a few percent of native; I/O goes through batched hypercalls, cheaper than exits.
    paravirtual: { cpuFactor: 1.02, ioOpUs: 2 },
    // Adams & Agesen, "A comparison of software and hardware techniques for x86 virtualization",
    // ASPLOS 2006: guest code runs natively under VT-x/SVM, but every sensitive op is a VM exit
    // (thousands of cycles on first-generation parts) plus device emulation. Later hardware cut
    // exit latency; these defaults model current parts, so hardware-assisted <= binary translation.
    'hardware-assisted': { cpuFactor: 1.02, ioOpUs: 5 },
    // Adams & Agesen 2006: binary translation runs translated kernel code (slower than native)
    // and emulates sensitive ops in the translation cache without a hardware exit.
    'binary-translation': { cpuFactor: 1.1, ioOpUs: 6 },
    // Bellard, "QEMU, a fast and portable dynamic translator", USENIX ATC 2005: full emulation
    // (TCG) translates every guest instruction; commonly 5-10x slower than native.
    emulation: { cpuFactor: 6, ioOpUs: 20 },
  },
  mmu: {
    // Adams & Agesen 2006: shadow page tables keep TLB misses native but trap every guest
    // page-table write so the VMM can keep the shadow in sync.
    shadow: { cpuFactor: 1.0, ptUpdateUs: 2 },
    // Bhargava et al., "Accelerating two-dimensional page walks for virtualized systems", ASPLOS
    // 2008: with nested paging a TLB miss walks both guest and host tables (up to 24 memory
    // references instead of 4), but guest page-table writes no longer trap.
    nested: { cpuFactor: 1.05, ptUpdateUs: 0 },
  },
  // A 4 KiB random read from a SATA/NVMe SSD takes tens of microseconds; 256 pages x ~40 us is
  // about 10 ms per MB paged back in (a spinning disk would be 100x worse).
  swap: { msPerMb: 10 },
  // Clark et al., "Live migration of virtual machines", NSDI 2005: the time to move a VM grows with
  // its memory (copied over the network); stop-and-copy at ~1 GB/s plus a fixed setup cost.
  migration: { baseMs: 200, msPerGb: 1000 },
  // Sugerman, Venkitachalam & Lim, "Virtualizing I/O devices on VMware Workstation's hosted virtual
  // machine monitor", USENIX ATC 2001: a hosted VMM pays world switches to the host OS and shares
  // the host scheduler; a few percent on CPU-bound work.
  type2: { cpuFactor: 1.05 },
};

/** The scenario's `costModel:` overrides merged field by field over the defaults. */
export function resolveCostModel(overrides: CostModelOverrides = {}, base: CostModel = DEFAULT_COST_MODEL): CostModel {
  const techniques = { ...base.techniques };
  for (const [name, o] of Object.entries(overrides.techniques ?? {}) as [VirtualizationTechnique, Partial<TechniqueCost> | undefined][]) {
    techniques[name] = { ...techniques[name], ...definedFields(o) };
  }
  const mmu = { ...base.mmu };
  for (const [name, o] of Object.entries(overrides.mmu ?? {}) as [MmuMode, Partial<MmuCost> | undefined][]) {
    mmu[name] = { ...mmu[name], ...definedFields(o) };
  }
  return {
    techniques,
    mmu,
    swap: { ...base.swap, ...definedFields(overrides.swap) },
    migration: { ...base.migration, ...definedFields(overrides.migration) },
    type2: { ...base.type2, ...definedFields(overrides.type2) },
  };
}

/** Drop undefined fields so `{ cpuFactor: undefined }` does not erase a default. */
function definedFields<T extends object>(fields: T | undefined): Partial<T> {
  if (fields === undefined) return {};
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Whether shadow/nested paging applies to a technique (see the header). */
function usesGuestMmu(technique: VirtualizationTechnique): boolean {
  return technique !== 'container' && technique !== 'emulation';
}

/** Whether a technique's sensitive ops enter a hypervisor (a trap, exit or hypercall), for the trap counters. */
function trapsToHypervisor(technique: VirtualizationTechnique): boolean {
  return technique !== 'container';
}

/**
 * One VM's coefficients of the formula in the header, resolved once: serviceMs runs on every
 * request, and resolving the technique and MMU by name each time was a measurable share of it.
 */
export interface VmServiceCost {
  readonly cpuFactor: number;
  readonly ioOpUs: number;
  /** 0 when shadow/nested paging does not apply to the technique. */
  readonly ptUpdateUs: number;
  /** Whether the VM's I/O ops and page-table writes trap to the hypervisor (for the trap counters). */
  readonly countsIoTraps: boolean;
  readonly countsPageTableTraps: boolean;
}

export function vmServiceCost(
  vm: Pick<VmSpec, 'virtualization' | 'mmu'>,
  model: CostModel,
  hypervisor: HypervisorType = 'type1',
): VmServiceCost {
  const technique = model.techniques[vm.virtualization];
  const guestMmu = usesGuestMmu(vm.virtualization);
  const mmu = model.mmu[vm.mmu];
  const ptUpdateUs = guestMmu ? mmu.ptUpdateUs : 0;
  return {
    cpuFactor: technique.cpuFactor * (guestMmu ? mmu.cpuFactor : 1) * (hypervisor === 'type2' ? model.type2.cpuFactor : 1),
    ioOpUs: technique.ioOpUs,
    ptUpdateUs,
    countsIoTraps: trapsToHypervisor(vm.virtualization),
    countsPageTableTraps: ptUpdateUs > 0,
  };
}

/** VM CPU milliseconds for a request of native cost `cost` with a VM's resolved coefficients. */
export function serviceMs(cost: RequestCost, c: VmServiceCost): number {
  return cost.cpuMs * c.cpuFactor + (cost.ioOps * c.ioOpUs) / 1000 + (cost.pageTableUpdates * c.ptUpdateUs) / 1000;
}

/** VM CPU milliseconds for a request of native cost `cost` on `vm` (formula in the header). */
export function serviceCpuMs(
  cost: RequestCost,
  vm: Pick<VmSpec, 'virtualization' | 'mmu'>,
  model: CostModel,
  hypervisor: HypervisorType = 'type1',
): number {
  return serviceMs(cost, vmServiceCost(vm, model, hypervisor));
}
