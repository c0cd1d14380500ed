/**
 * Memory overcommit and swap cost. A VM's memoryMb is its maximum, not a reservation; the host must
 * back what each VM uses: its resident memory (residentMb) plus the working sets of the requests
 * running in it, which live inside the VM's memory and so never take it past its maximum:
 *
 *   usedMb(vm)       = min(vm.memoryMb, vm.residentMb + its running requests' working sets)
 *   demandMb         = sum of usedMb over the host's VMs
 *   swappedFraction  = max(0, 1 - hostMemoryMb / demandMb)      (the part that cannot be resident)
 *   swapMs(request)  = request.memoryMb * swappedFraction * swap.msPerMb
 *
 * residentMb defaults to the whole of memoryMb: a long-running guest uses its free memory as page
 * cache, so without ballooning the host ends up backing all of it (Waldspurger, "Memory resource
 * management in VMware ESX Server", OSDI 2002); a scenario sets it lower for guests that touch less.
 * A request pays to page in the share of its working set that is out, and that share grows with
 * the overcommit ratio demandMb / hostMemoryMb (it is 1 - 1/ratio). The fraction is taken when the
 * request starts (its pages are touched then). The page-in time is added to the request's work, as
 * if its thread were running: a simplification (it is really blocked on the disk), which slightly
 * overstates CPU contention on a swapping host.
 *
 * Which hosts swap: a Type 2 host always may (its VMs are host processes); a Type 1 host refuses
 * VMs whose memory exceeds its own unless the scenario allows overcommit, and then swaps like ESXi.
 */
import type { HostSpec, VmSpec } from '../../core/scenario.js';
import type { VmState } from './vm-state.js';

/** Throws when a Type 1 host's VMs total more memory than it has and overcommit is not allowed. */
export function checkOvercommit(host: HostSpec, vms: readonly VmSpec[]): void {
  const vmMemoryMb = vms.reduce((sum, vm) => sum + vm.memoryMb, 0);
  if (host.hypervisor === 'type1' && vmMemoryMb > host.memoryMb && !host.allowOvercommit) {
    throw new Error(
      `type1 host "${host.name}" has ${host.memoryMb} MB but its VMs total ${vmMemoryMb} MB; a Type 1 hypervisor refuses overcommit unless allowOvercommit: true`,
    );
  }
}

/** Whether requests on `host` pay swap-in: a Type 2 host swaps, a Type 1 host only if allowed to overcommit. */
export function hostSwaps(host: HostSpec): boolean {
  return host.hypervisor === 'type2' || host.allowOvercommit;
}

/** The memory the host must back: what each VM uses (VmState.memoryInUseMb), not its maximum. */
export function memoryDemandMb(vms: readonly VmState[]): number {
  let demandMb = 0;
  for (const vm of vms) demandMb += vm.memoryInUseMb();
  return demandMb;
}

/** The fraction of all demanded memory that is swapped out. */
export function swappedFraction(demandMb: number, hostMemoryMb: number): number {
  return demandMb > hostMemoryMb ? 1 - hostMemoryMb / demandMb : 0;
}

/** Page-in time of a working set of `workingSetMb` on a host swapping `fraction` of its memory. */
export function swapInMs(workingSetMb: number, fraction: number, msPerMb: number): number {
  return workingSetMb * fraction * msPerMb;
}
