import type { Cancel } from '../../core/clock.js';
import type { Millis } from '../../core/types.js';

/**
 * What the rest of dispatchlab sees of the hypervisor model (docs/model.md). The replica HTTP
 * servers and the simulator both call `submit` and read snapshots; nothing here knows about HTTP
 * or which Clock drives it.
 */

/** A request's native cost: what it would take on bare metal, before virtualization overheads. */
export interface RequestCost {
  /** Native CPU time on one core. */
  readonly cpuMs: Millis;
  /** Sensitive operations (I/O, privileged instructions): traps, exits or hypercalls, by technique. */
  readonly ioOps: number;
  /** Guest page-table writes: a trap each under shadow paging, free under nested paging. */
  readonly pageTableUpdates: number;
  /** Working set while running; on an overcommitted host that swaps, part of it is swapped in. */
  readonly memoryMb: number;
}

/** How one request went through the model. */
export interface JobTiming {
  readonly vm: string;
  readonly host: string;
  readonly submittedAt: Millis;
  readonly finishedAt: Millis;
  /** VM CPU time the request needed after virtualization, memory and swap overheads. */
  readonly serviceMs: Millis;
  /** Time it wanted a physical core and the hypervisor gave it to another VM or the host. */
  readonly stealMs: Millis;
  /** Time it ran slower because its VM's other requests shared the VM's vCPUs. */
  readonly queuedMs: Millis;
  /** Time its VM made no progress (Condor owner back, migration downtime). */
  readonly suspendedMs: Millis;
}

/** A successful result is the host's own job object (its JobHandle), which it no longer touches once delivered. */
export type JobResult =
  | { readonly ok: true; readonly timing: JobTiming }
  /** crashed: the VM is down (a fault); cancelled: the caller cancelled it. */
  | { readonly ok: false; readonly reason: 'crashed' | 'cancelled'; readonly vm: string; readonly host: string };

export interface JobHandle {
  /** Abandon the request (client went away): its remaining work is dropped and onDone gets 'cancelled'. */
  readonly cancel: Cancel;
}

export type VmStatus = 'running' | 'suspended' | 'migrating' | 'crashed';

export interface VmSnapshot {
  readonly vm: string;
  readonly host: string;
  readonly status: VmStatus;
  readonly vcpus: number;
  readonly serves: boolean;
  /** Requests in the VM now. */
  readonly running: number;
  readonly completed: number;
  /** Physical CPU time the VM got, and the vCPU time it wanted and did not get. */
  readonly cpuSeconds: number;
  readonly stealSeconds: number;
  /** Memory of this VM currently swapped out (Type 2 hosts, and Type 1 hosts allowed to overcommit). */
  readonly swappedMb: number;
  readonly ioTraps: number;
  readonly pageTableTraps: number;
  /** Load the VM reports to the dispatcher (X-VM-Load): running requests per vCPU, slowed by steal. */
  readonly load: number;
}

export interface HostSnapshot {
  readonly host: string;
  readonly hypervisor: 'type1' | 'type2';
  readonly cores: number;
  readonly ownerActive: boolean;
  readonly memoryMb: number;
  readonly memoryDemandMb: number;
  readonly vms: readonly VmSnapshot[];
}

/** A VM changed status (owner came back, migration ended, a fault): the HTTP side reports health from it. */
export type VmStatusListener = (vm: string, status: VmStatus) => void;

/**
 * One simulated hypervisor host and its VMs. Implemented by the model in this folder; the replica
 * servers (one process per host) and the simulator (all hosts in one process) drive it.
 */
export interface HypervisorHost {
  readonly name: string;
  /** Run `cost` as one request (one thread: at most one vCPU) on `vm`; onDone is called exactly once. */
  submit(vm: string, cost: RequestCost, onDone: (result: JobResult) => void): JobHandle;
  /** Start the time-driven parts (owner intervals, faults), relative to clock.now(). */
  start(): void;
  /** Cancel every pending timer; running requests are cancelled. */
  stop(): void;
  status(vm: string): VmStatus;
  /**
   * `vm` resolved once, for callers that submit to it and read its load on every request (the
   * simulator, a replica's HTTP app).
   */
  port(vm: string): VmPort;
  snapshot(): HostSnapshot;
  onStatusChange(listener: VmStatusListener): void;

  // Runtime controls (the dashboard's fault buttons), each one model event like a scenario fault.
  /** Crash the VM until restore(): its requests fail, new ones fail at once. */
  crash(vm: string): void;
  /** End a crash(); a crash from the scenario's faults ends only when the scenario says. */
  restore(vm: string): void;
  /** The VM's owner comes back: suspended for `forMs`, or migrated (down for its migration time). */
  ownerReturns(vm: string, mode: 'suspend' | 'migrate', forMs: Millis): void;
  /** Type 2 only: the host OS's own load, in cores, from now on. */
  setHostLoad(cores: number): void;
  hostLoad(): number;
}

/**
 * One VM of a host, resolved once: the same as the host's `submit(vm, ...)` and its snapshot's
 * `load`, without finding the VM by name on every call (two map lookups per request).
 */
export interface VmPort {
  readonly vm: string;
  submit(cost: RequestCost, onDone: (result: JobResult) => void): JobHandle;
  /** The load the VM reports now (its VmSnapshot.load, what X-VM-Load carries live). */
  load(): number;
}

/** Every host of a scenario, sharing one Clock. */
export interface Fleet {
  readonly hosts: readonly HypervisorHost[];
  host(name: string): HypervisorHost;
  /** The host a VM runs on. */
  hostOf(vm: string): HypervisorHost;
  start(): void;
  stop(): void;
}
