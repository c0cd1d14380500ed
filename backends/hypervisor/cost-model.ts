/**
 * The virtualization cost model: how a request's native cost (RequestCost, what it would take on
 * bare metal) becomes VM CPU time, by virtualization technique, memory-virtualization mode and
 * hypervisor type. Every factor is scenario data (`costModel:` overrides), with the defaults below;
 * docs/model.md explains each one to a student and lists the same sources.
 *
 *   serviceCpuMs = cpuMs * technique.cpuFactor * mmu.cpuFactor * (type2 VMM ? type2.cpuFactor : 1)
 *                + ioOps * technique.ioOpUs / 1000
 *                + pageTableUpdates * (mmu.ptUpdateUs + (shadow ? technique.ptTrapUs : 0)) / 1000
 *
 * A guest page-table write under shadow paging costs two things: getting into the VMM
 * (technique.ptTrapUs: a full VM exit under hardware assist without EPT/NPT, a call out of the
 * translation cache under binary translation, a hypercall under para-virtualization) and the VMM's
 * work to bring the shadow entry in sync (mmu.shadow.ptUpdateUs, the same whatever the way in).
 * Keeping the two apart is what lets the model show Adams & Agesen's result: first-generation
 * hardware assist, every shadow fault an exit, was slower than BT on page-table-heavy work.
 *
 * The defaults are representative magnitudes chosen to respect the orderings the cited papers
 * report, not measurements of one machine: on a typical request emulation >> binary translation
 * with shadow paging ~ hardware assist with shadow paging (first generation) > hardware assist with
 * nested paging > para-virtualization ~ container. Containers and emulation have no guest MMU of the
 * kind shadow/nested paging virtualizes (a container uses the host's page tables; an emulator's
 * software MMU is inside its cpuFactor), so the MMU mode does not apply to them; a container has no
 * VMM either, so the Type 2 surcharge does not apply to it.
 */
import type { CostModelOverrides, HypervisorType, MmuMode, VirtualizationTechnique, VmSpec } from '../../core/scenario.js';
import type { RequestCost } from './types.js';

export interface TechniqueCost {
  /** Multiplier on native CPU time for ordinary (non-sensitive) code. */
  readonly cpuFactor: number;
  /** Cost of one sensitive operation: a trap-and-emulate exit, a translated op, a hypercall or a syscall. */
  readonly ioOpUs: number;
  /** Getting into the VMM for one trapped guest page-table write under shadow paging (see the header). */
  readonly ptTrapUs: number;
}

export interface MmuCost {
  /** Multiplier on native CPU time: TLB misses are dearer under nested paging's 2-D walk. */
  readonly cpuFactor: number;
  /** The VMM's work per guest page-table write: syncing the shadow entry; 0 under nested paging. */
  readonly ptUpdateUs: number;
}

export interface CostModel {
  readonly techniques: Readonly<Record<VirtualizationTechnique, TechniqueCost>>;
  readonly mmu: Readonly<Record<MmuMode, MmuCost>>;
  /** Paging a swapped-out megabyte back in on an overcommitted host. */
  readonly swap: { readonly msPerMb: number };
  /** Migration of a harvested VM (migration.ts): copy rate, checkpoint setup, live pre-copy. */
  readonly migration: MigrationCost;
  /** A Type 2 VMM is a host process: world switches and host scheduling cost on top. */
  readonly type2: { readonly cpuFactor: number };
}

export interface MigrationCost {
  /** Checkpoint/restart: fixed cost of writing the checkpoint and restarting it elsewhere. */
  readonly baseMs: number;
  /** Copying memory: ms per GB (the network or checkpoint server's bandwidth). */
  readonly msPerGb: number;
  readonly live: {
    /** Rate at which the running guest dirties memory during pre-copy (its writable working set). */
    readonly dirtyMbPerS: number;
    /** Pre-copy rounds at most before the final stop-and-copy. */
    readonly maxRounds: number;
    /** Stop pre-copying once a round would leave at most this much dirty memory. */
    readonly stopCopyMb: number;
    /** Fixed part of the downtime: resuming on the destination, redirecting the network. */
    readonly resumeMs: number;
  };
}

export const DEFAULT_COST_MODEL: CostModel = {
  techniques: {
    // Felter et al., "An updated performance comparison of virtual machines and Linux containers",
    // IBM Research / ISPASS 2015: Docker matches native CPU; a sensitive op is a plain syscall.
    container: { cpuFactor: 1.0, ioOpUs: 0.5, ptTrapUs: 0 },
    // Barham et al., "Xen and the art of virtualization", SOSP 2003: para-virtualized guests run
    // within a few percent of native; I/O and page-table updates go through batched hypercalls,
    // cheaper than exits.
    paravirtual: { cpuFactor: 1.02, ioOpUs: 2, ptTrapUs: 0.5 },
    // Adams & Agesen, "A comparison of software and hardware techniques for x86 virtualization",
    // ASPLOS 2006: guest code runs natively under VT-x/SVM, but every sensitive op is a VM exit plus
    // device emulation, and without EPT/NPT every shadow page-table fault is a full exit (thousands
    // of cycles on first-generation parts). ioOpUs models current parts, whose exits are cheaper
    // (Agesen et al., USENIX ATC 2012); ptTrapUs only ever applies without nested paging, that is
    // to first-generation hardware assist.
    'hardware-assisted': { cpuFactor: 1.02, ioOpUs: 5, ptTrapUs: 2 },
    // Adams & Agesen 2006: binary translation runs translated kernel code (slower than native) and
    // handles sensitive ops and page-table writes in place, with calls out of the translation
    // cache instead of hardware exits.
    'binary-translation': { cpuFactor: 1.1, ioOpUs: 6, ptTrapUs: 0.5 },
    // Smith & Nair, "Virtual Machines: Versatile Platforms for Systems and Processes", 2005, ch. 2:
    // emulation by interpretation costs tens of host instructions per guest instruction, commonly
    // 10-100x native; dynamic translation (Bellard, "QEMU, a fast and portable dynamic translator",
    // USENIX ATC 2005) sits at the fast end. 20x is inside that range.
    emulation: { cpuFactor: 20, ioOpUs: 20, ptTrapUs: 0 },
  },
  mmu: {
    // Adams & Agesen 2006: shadow page tables keep TLB misses native, but the VMM write-protects
    // the guest's tables and brings the shadow in sync on every write (plus the way in, ptTrapUs).
    shadow: { cpuFactor: 1.0, ptUpdateUs: 1 },
    // Bhargava et al., "Accelerating two-dimensional page walks for virtualized systems", ASPLOS
    // 2008: with nested paging a TLB miss walks both guest and host tables (up to 24 memory
    // references instead of 4), but guest page-table writes no longer trap.
    nested: { cpuFactor: 1.05, ptUpdateUs: 0 },
  },
  // A 4 KiB random read from a SATA/NVMe SSD takes tens of microseconds; 256 pages x ~40 us is
  // about 10 ms per MB paged back in (a spinning disk would be 100x worse).
  swap: { msPerMb: 10 },
  migration: {
    // Condor checkpoint/restart (Litzkow, Tannenbaum, Basney & Livny, "Checkpoint and migration of
    // UNIX processes in the Condor distributed processing system", UW-Madison TR 1346, 1997): the job
    // stops, its whole image is written and restarted elsewhere: stop-and-copy at ~1 GB/s plus setup.
    baseMs: 200,
    msPerGb: 1000,
    // Clark et al., "Live migration of virtual machines", NSDI 2005: iterative pre-copy while the VM
    // runs, then a short stop-and-copy of the last dirty pages; measured downtimes 60-210 ms for
    // 800 MB guests. Xen stops pre-copying after 30 rounds or once little is left.
    live: { dirtyMbPerS: 40, maxRounds: 30, stopCopyMb: 16, resumeMs: 50 },
  },
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
    migration: {
      ...base.migration,
      ...definedFields({ baseMs: overrides.migration?.baseMs, msPerGb: overrides.migration?.msPerGb }),
      live: { ...base.migration.live, ...definedFields(overrides.migration?.live) },
    },
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

/**
 * Whether a technique runs under a VMM: its sensitive ops enter it (a trap, exit or hypercall, for
 * the trap counters), and on a Type 2 host it pays world switches. A container has none.
 */
function hasVmm(technique: VirtualizationTechnique): boolean {
  return technique !== 'container';
}

/**
 * One VM's coefficients of the formula in the header, resolved once: serviceMs runs on every
 * request, and resolving the technique and MMU by name each time was a measurable share of it.
 */
export interface VmServiceCost {
  readonly cpuFactor: number;
  readonly ioOpUs: number;
  /** Per guest page-table write, the way in included; 0 when shadow/nested paging does not apply. */
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
  const ptUpdateUs = guestMmu ? mmu.ptUpdateUs + (vm.mmu === 'shadow' ? technique.ptTrapUs : 0) : 0;
  const hostedVmm = hypervisor === 'type2' && hasVmm(vm.virtualization);
  return {
    cpuFactor: technique.cpuFactor * (guestMmu ? mmu.cpuFactor : 1) * (hostedVmm ? model.type2.cpuFactor : 1),
    ioOpUs: technique.ioOpUs,
    ptUpdateUs,
    countsIoTraps: hasVmm(vm.virtualization),
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
