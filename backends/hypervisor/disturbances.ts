/**
 * What happens to a host's VMs besides their requests: Condor owner activity (harvested VMs are
 * suspended or migrated while the owner is at the workstation), the scenario's faults (crash, slow),
 * and the runtime controls that do the same on demand (crash/restore, ownerReturns, setHostLoad).
 * docs/model.md section 5 states the semantics.
 *
 * Each change is one host event, `transition(atMs, change)`: the host completes what was due before
 * `atMs`, charges the VMs, runs `change` (which only sets VM flags here), recomputes rates and the
 * completion timer, reports status changes and calls back failed jobs. So a change here never
 * touches the scheduling state itself, and none of it is on the per-request path.
 *
 * Owner visits overlap freely, the scenario's intervals and the runtime ones alike: each kind counts
 * its visits in progress, and a VM resumes only when no visit of either kind holds it (ownerHolds).
 */
import type { Cancel, Clock } from '../../core/clock.js';
import type { FaultSpec, HostSpec } from '../../core/scenario.js';
import type { Millis } from '../../core/types.js';
import type { MigrationCost } from './cost-model.js';
import { scheduleIntervals } from './intervals.js';
import { migrationPlan } from './migration.js';
import type { VmState } from './vm-state.js';

/** The host as the disturbances see it (HostModel in host.ts). */
export interface DisturbedHost {
  readonly name: string;
  /** The model's current instant. */
  readonly nowMs: Millis;
  readonly vms: readonly VmState[];
  vm(name: string): VmState;
  /** Run `change` as one event at model instant `atMs` (see the header). */
  transition(atMs: Millis, change: () => void): void;
  /** End every live job of `vm` with `reason`; their callbacks run when the event ends. */
  failAll(vm: VmState, reason: 'crashed'): void;
}

export class Disturbances {
  /** Owner intervals in progress: they may overlap, and the owner leaves when the last one ends. */
  private ownerDepth = 0;
  /**
   * Runtime owner visits (ownerReturns 'suspend') in progress, per VM; a VM is absent once its last
   * one ended. Counted apart from ownerDepth because a visit holds one VM, harvested or not, while
   * the scenario's owner holds the host's harvested VMs.
   */
  private readonly visits = new Map<VmState, number>();
  /** The scheduled owner/fault intervals and migration steps: stop() cancels them. */
  private readonly timelines: Cancel[] = [];
  /** VMs crashed by crash() and not restored yet: restore() ends only these, never a scenario fault. */
  private readonly crashedByControl = new Map<VmState, FaultSpec>();

  constructor(
    private readonly host: DisturbedHost,
    /** The host's spec, owned by the model (createFleet hands it a copy): setHostLoad writes it. */
    private readonly spec: HostSpec,
    /** Faults of this host's VMs (scenario `faults`), relative to start(). */
    private readonly faults: readonly FaultSpec[],
    private readonly migration: MigrationCost,
    private readonly clock: Clock,
  ) {
    for (const fault of faults) {
      if (!host.vms.some((vm) => vm.name === fault.vm)) throw new Error(`host "${host.name}": fault on "${fault.vm}", which is not a VM of this host`);
    }
  }

  get ownerActive(): boolean {
    return this.ownerDepth > 0;
  }

  /** Schedule the owner intervals, then the faults, counted from model instant `startMs`. */
  start(startMs: Millis): void {
    if (this.timelines.length > 0) throw new Error(`host "${this.host.name}": start() called twice`);
    this.timelines.push(
      scheduleIntervals(
        this.clock,
        this.spec.owner,
        (interval) => this.host.transition(startMs + interval.at, () => this.ownerBegins()),
        (interval) => this.host.transition(startMs + interval.at + interval.for, () => this.ownerEnds()),
      ),
      scheduleIntervals(
        this.clock,
        this.faults,
        (fault) => this.host.transition(startMs + fault.at, () => this.faultBegins(fault)),
        (fault) => this.host.transition(startMs + fault.at + fault.for, () => this.faultEnds(fault)),
      ),
    );
  }

  stop(): void {
    for (const cancel of this.timelines.splice(0)) cancel();
  }

  private ownerBegins(): void {
    if (this.ownerDepth++ > 0) return;
    for (const vm of this.host.vms) {
      if (!vm.spec.harvested) continue;
      if (this.spec.onOwnerReturn === 'suspend') vm.ownerSuspended = true;
      else if (!vm.migrating) this.migrate(vm);
    }
  }

  private ownerEnds(): void {
    if (--this.ownerDepth > 0) return;
    // The scenario's owner leaves, but a runtime visit may still hold a VM.
    for (const vm of this.host.vms) vm.ownerSuspended = this.ownerHolds(vm);
  }

  /**
   * Whether an owner keeps `vm` suspended now: a runtime visit to it, or the scenario's owner if the
   * VM is harvested on a host that suspends. The end of a visit of either kind sets ownerSuspended
   * from this, so overlapping visits merge and the VM runs again when the last one ends, whichever
   * kind that is.
   */
  private ownerHolds(vm: VmState): boolean {
    return this.visits.has(vm) || (this.ownerDepth > 0 && vm.spec.harvested && this.spec.onOwnerReturn === 'suspend');
  }

  /**
   * Migrate a harvested VM by the host's `migrate` mode (migration.ts): a live migration keeps it
   * running while its memory is pre-copied, then both modes stop it for the downtime, and it runs
   * again. Simplification: it resumes in this same host model, as if the destination were an
   * identical idle machine, so its neighbours and the owner's presence still apply to it.
   */
  private migrate(vm: VmState): void {
    const plan = migrationPlan(vm.spec.memoryMb, this.spec.migrate, this.migration);
    vm.migrating = true;
    const stop = (): void => {
      vm.migrationDown = true;
      const backAtMs = this.host.nowMs + plan.downtimeMs;
      this.timelines.push(
        this.clock.schedule(plan.downtimeMs, () =>
          this.host.transition(backAtMs, () => {
            vm.migrating = vm.migrationDown = false;
          }),
        ),
      );
    };
    if (plan.precopyMs === 0) stop();
    else {
      const stopAtMs = this.host.nowMs + plan.precopyMs;
      this.timelines.push(this.clock.schedule(plan.precopyMs, () => this.host.transition(stopAtMs, stop)));
    }
  }

  private faultBegins(fault: FaultSpec): void {
    const vm = this.host.vm(fault.vm);
    if (fault.kind === 'slow') {
      vm.slowFactor *= fault.factor;
      return;
    }
    vm.crashDepth++;
    this.host.failAll(vm, 'crashed');
  }

  private faultEnds(fault: FaultSpec): void {
    const vm = this.host.vm(fault.vm);
    if (fault.kind === 'slow') vm.slowFactor /= fault.factor;
    else vm.crashDepth--;
  }

  // Runtime controls (the dashboard's fault buttons). Each is one transition, like a scenario fault
  // or owner interval, so rates, the completion timer, status listeners and failed jobs' callbacks
  // all go the way they go for those.

  /** A control acts when it is called: at the wall clock's now, after the model caught up to it. */
  private transitionNow(change: () => void): void {
    this.host.transition(this.clock.now(), change);
  }

  crash(vmName: string): void {
    const vm = this.host.vm(vmName);
    if (this.crashedByControl.has(vm)) return;
    // An open-ended crash fault: it lasts until restore().
    const fault: FaultSpec = { vm: vmName, kind: 'crash', at: this.clock.now(), for: Infinity, factor: 1 };
    this.crashedByControl.set(vm, fault);
    this.transitionNow(() => this.faultBegins(fault));
  }

  restore(vmName: string): void {
    const vm = this.host.vm(vmName);
    const fault = this.crashedByControl.get(vm);
    if (fault === undefined) return;
    this.crashedByControl.delete(vm);
    this.transitionNow(() => this.faultEnds(fault));
  }

  /**
   * The VM's owner comes back, as if the VM were harvested: 'suspend' stops it for `forMs`, merged
   * with any other visit that overlaps it (runtime or the scenario's owner intervals): the VM runs
   * again when the last of them ends. 'migrate' takes it down for the migration's downtime (its
   * memory), whatever `forMs` says; a return while the VM is migrating joins that migration, as a
   * scenario owner interval does, since the VM is already leaving. Suspension and migration are
   * separate flags, so a VM both visited and migrated is down until the later of the two ends.
   */
  ownerReturns(vmName: string, mode: 'suspend' | 'migrate', forMs: Millis): void {
    const vm = this.host.vm(vmName);
    if (mode === 'migrate') {
      if (!vm.migrating) this.transitionNow(() => this.migrate(vm));
      return;
    }
    if (!(forMs > 0 && Number.isFinite(forMs))) throw new Error(`host "${this.host.name}": an owner visit lasts a positive, finite time, got ${forMs} ms`);
    this.transitionNow(() => {
      this.visits.set(vm, (this.visits.get(vm) ?? 0) + 1);
      vm.ownerSuspended = true;
    });
    const backAtMs = this.host.nowMs + forMs;
    this.timelines.push(
      this.clock.schedule(forMs, () =>
        this.host.transition(backAtMs, () => {
          const left = (this.visits.get(vm) ?? 1) - 1;
          if (left > 0) this.visits.set(vm, left);
          else this.visits.delete(vm);
          // Another visit, or the scenario's owner, may still be there: then the VM stays suspended.
          vm.ownerSuspended = this.ownerHolds(vm);
        }),
      ),
    );
  }

  /**
   * The host OS's own load from now on (cores' worth of busy processes; a Type 2 host only, as in
   * the scenario). The new value is simply the spec's, which every recompute reads.
   */
  setHostLoad(cores: number): void {
    if (this.spec.hypervisor !== 'type2') throw new Error(`host "${this.host.name}" is Type 1: the hypervisor owns the cores, there is no host OS load to add`);
    if (!(cores >= 0 && Number.isFinite(cores))) throw new Error(`host "${this.host.name}": host load must be a finite number of cores >= 0, got ${cores}`);
    this.transitionNow(() => {
      this.spec.hostLoad = cores;
    });
  }
}
