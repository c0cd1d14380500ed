/**
 * One hypervisor host as an event-driven fluid model (generalized processor sharing), clock-agnostic:
 * docs/model.md explains it to a student and states the semantics the tests pin.
 *
 * On every event (submit, completion, cancel, an owner/fault/migration change from disturbances.ts):
 * charge the elapsed time to the VMs at their current rates, apply the change, recompute the rates,
 * and keep ONE timer, for the earliest completion. (A VM is charged lazily: whenever its rates are
 * about to change or its counters are read, which is the same as charging every VM on every event.)
 * Rates:
 *  - a VM with n running requests, background b (cores of its own work) and v vCPUs wants
 *    min(v, n + b) cores, at most its cap;
 *  - the host shares its cores among the VMs by weight with water-filling (water-fill.ts); on a
 *    Type 2 host the host OS's own load is one more claimant, weight 1 per core of load, and a VM,
 *    whose vCPUs are host threads like any other, weighs its weight per runnable vCPU thread (or
 *    once, with type2Sharing: per-process);
 *  - inside a VM the cores it got are shared equally among its requests and background threads, at
 *    most one core per request (a request is one thread);
 *  - steal = cores wanted - cores got; a suspended or migrating VM wants nothing and makes no progress.
 * memory.ts says what a request pays to swap its pages in and whether the host may overcommit.
 * Per submit, completion or cancel on a host whose cores cover its VMs' demand, the cost is
 * O(log VMs on the host) (CompletionTree) plus O(log n) heap work per job started or finished;
 * when they do not, an event that changes its VM's demand moves every VM's share and costs O(VMs on
 * the host) (water-fill); one that leaves it as it was sets that VM's rates only (settleOne).
 *
 * Model time is the host's own (`nowMs`), not the wall clock's reading. On the VirtualClock they are
 * the same; on the system clock a timer fires late when the event loop is busy, and every entry
 * point first brings the model up to the wall time by completing, each at its own instant and in
 * order, whatever was due before it (advance). Lateness then delays answers, as it must, but never
 * hands a finished job's vCPU time to its neighbours or to the job itself.
 */
import type { Clock, Timer } from '../../core/clock.js';
import type { FaultSpec, HostSpec, VmSpec } from '../../core/scenario.js';
import type { Millis } from '../../core/types.js';
import { type CostModel, serviceMs, vmServiceCost } from './cost-model.js';
import { type DisturbedHost, Disturbances } from './disturbances.js';
import { checkOvercommit, hostSwaps, memoryDemandMb, swapInMs, swappedFraction } from './memory.js';
import type { HostSnapshot, HypervisorHost, JobHandle, JobResult, RequestCost, VmPort, VmSnapshot, VmStatus, VmStatusListener } from './types.js';
import { CompletionTree } from './completion-tree.js';
import { dueHorizonMs, isDue, Job, type JobOwner, VmState } from './vm-state.js';
import { WaterFill } from './water-fill.js';
import { listNames } from '../../core/names.js';

export interface HostDeps {
  readonly clock: Clock;
  readonly costModel: CostModel;
  /** Faults of this host's VMs (scenario `faults`), relative to start(). */
  readonly faults?: readonly FaultSpec[];
  /**
   * Told, on every completion timer, how much later than the model's due time it fired (negative:
   * early, by less than a timer tick). What the machine, not the model, adds to a live answer.
   */
  readonly onTimerLateness?: (lateMs: Millis) => void;
}

class HostModel implements HypervisorHost, JobOwner, DisturbedHost {
  readonly name: string;
  private readonly clock: Clock;
  private readonly model: CostModel;
  private readonly onTimerLateness: ((lateMs: Millis) => void) | undefined;
  /** The model's current instant: never behind an event already run, never decreasing. */
  nowMs: Millis;
  readonly vms: VmState[];
  private readonly byName = new Map<string, VmState>();
  private readonly share: WaterFill;
  /** Whether requests pay swap-in (memory.ts hostSwaps). */
  private readonly swaps: boolean;
  /** Whether a VM weighs its weight per runnable vCPU thread (Type 2 per-thread sharing, see recompute). */
  private readonly weighsThreads: boolean;
  private jobSeq = 0;
  /** The one timer, at the earliest completion; `timerAtMs` is NaN while it is not armed. */
  private readonly timer: Timer;
  private timerAtMs = Number.NaN;
  /** Whether the last water-fill gave every claimant its whole demand (see settleOne). */
  private uncontended = false;
  /** The claimants' total demand while `demandWhole`: every demand a whole number of cores (demandsFit). */
  private demandTotal = 0;
  private demandWhole = false;
  /** Each VM's next completion and due bound, by slot: the earliest in O(1), one VM's update in O(log VMs). */
  private readonly completions: CompletionTree;
  /** Scratch for completeDue: the slots the CompletionTree found. */
  private readonly dueSlots: number[] = [];
  /** Whether the VMs' memory, all of it in use, could exceed the host's: only then is the swapped fraction worked out. */
  private readonly mayOverflowMemory: boolean;
  /** Owners, faults, migrations and the runtime controls: each change comes back as transition(). */
  private readonly disturbances: Disturbances;
  private readonly listeners: VmStatusListener[] = [];
  /** Jobs that ended in the current event; their callbacks run after the state is consistent again. */
  private readonly ended: Array<Job | undefined> = [];
  private endedCount = 0;
  private endedRead = 0;

  constructor(
    private readonly spec: HostSpec,
    vms: readonly VmSpec[],
    deps: HostDeps,
  ) {
    this.name = spec.name;
    this.clock = deps.clock;
    this.model = deps.costModel;
    this.onTimerLateness = deps.onTimerLateness;
    const nowMs = (this.nowMs = this.clock.now());
    this.vms = vms.map((vm, index) => new VmState(vm, this, index, vmServiceCost(vm, deps.costModel, spec.hypervisor), nowMs));
    this.timer = this.clock.timer(() => this.handleTimer());
    for (const vm of this.vms) {
      const { name, host, vcpus, capCores } = vm.spec;
      if (host !== spec.name) throw new Error(`host "${spec.name}": VM "${name}" belongs to host "${host}"`);
      if (this.byName.has(name)) throw new Error(`host "${spec.name}": VM "${name}" is defined twice`);
      if (vcpus > spec.cores) throw new Error(`host "${spec.name}": VM "${name}" has ${vcpus} vCPUs but the host only ${spec.cores} cores`);
      if (capCores > vcpus) throw new Error(`host "${spec.name}": VM "${name}" has a cap of ${capCores} cores above its ${vcpus} vCPUs`);
      if (vm.spec.virtualization === 'binary-translation' && vm.spec.mmu !== 'shadow') {
        throw new Error(`host "${spec.name}": VM "${name}" uses binary translation, which runs on shadow page tables only`);
      }
      this.byName.set(name, vm);
    }
    this.disturbances = new Disturbances(this, spec, deps.faults ?? [], deps.costModel.migration, this.clock);
    checkOvercommit(spec, vms);
    this.swaps = hostSwaps(spec);
    this.weighsThreads = spec.hypervisor === 'type2' && spec.type2Sharing === 'per-thread';
    this.share = new WaterFill(this.vms.length + (spec.hypervisor === 'type2' ? 1 : 0));
    this.completions = new CompletionTree(this.vms.length);
    // Summed in the VMs' order, as memoryDemandMb sums what they use (each at most its memoryMb), so
    // rounding cannot make the used total exceed this one.
    let maxMemoryMb = 0;
    for (const vm of vms) maxMemoryMb += vm.memoryMb;
    this.mayOverflowMemory = maxMemoryMb > spec.memoryMb;
    this.recompute();
  }

  submit(vmName: string, cost: RequestCost, onDone: (result: JobResult) => void): JobHandle {
    return this.submitTo(this.vm(vmName), cost, onDone);
  }

  /** The VM is its own port (VmState.submit comes back to submitTo). */
  port(vmName: string): VmPort {
    return this.vm(vmName);
  }

  /** submit() with the VM resolved (a VmPort's submit); not part of HypervisorHost. */
  submitTo(vm: VmState, cost: RequestCost, onDone: (result: JobResult) => void): JobHandle {
    this.enter();
    if (vm.status === 'crashed') return this.failSoon(vm, onDone);
    // Only this VM: its neighbours are charged if settleOne has to recompute their rates.
    vm.chargeTo(this.nowMs);
    // The fraction out once this request's pages are in use too (memoryDemandMb counts them).
    vm.workingSetMb += cost.memoryMb;
    const fraction = this.swaps && this.mayOverflowMemory ? swappedFraction(memoryDemandMb(this.vms), this.spec.memoryMb) : 0;
    const workMs =
      serviceMs(cost, vm.cost) + swapInMs(cost.memoryMb, fraction, this.model.swap.msPerMb);
    const job = new Job(vm, this.jobSeq++, this.nowMs, workMs, cost.ioOps, cost.pageTableUpdates, cost.memoryMb, onDone);
    vm.addJob(job);
    vm.running++;
    vm.completionStale = true;
    this.settleOne(vm);
    return job;
  }

  cancelJob(job: Job): void {
    if (job.done) return;
    this.enter();
    if (job.done) return;
    job.state.chargeTo(this.nowMs);
    this.endJob(job);
    this.settleOne(job.state);
    job.onDone(this.failure(job.state, 'cancelled'));
  }

  start(): void {
    this.enter();
    this.disturbances.start(this.nowMs);
  }

  stop(): void {
    this.disturbances.stop();
    this.enter();
    this.timer.clear();
    this.timerAtMs = Number.NaN;
    this.update();
    for (const vm of this.vms) this.failAll(vm, 'cancelled');
    this.recompute();
    this.deliver();
  }

  status(vmName: string): VmStatus {
    return this.vm(vmName).status;
  }

  onStatusChange(listener: VmStatusListener): void {
    this.listeners.push(listener);
  }

  snapshot(): HostSnapshot {
    this.enter();
    this.update();
    const demandMb = memoryDemandMb(this.vms);
    const fraction = this.swaps ? swappedFraction(demandMb, this.spec.memoryMb) : 0;
    const vms: VmSnapshot[] = this.vms.map((vm) => ({
      vm: vm.spec.name,
      host: this.name,
      status: vm.status,
      vcpus: vm.spec.vcpus,
      serves: vm.spec.serves,
      running: vm.running,
      completed: vm.completed,
      cpuSeconds: vm.cpuMs / 1000,
      stealSeconds: vm.stealMs / 1000,
      swappedMb: vm.memoryInUseMb() * fraction,
      ioTraps: vm.ioTraps,
      pageTableTraps: vm.pageTableTraps,
      load: vm.load(),
    }));
    return {
      host: this.name,
      hypervisor: this.spec.hypervisor,
      cores: this.spec.cores,
      ownerActive: this.disturbances.ownerActive,
      memoryMb: this.spec.memoryMb,
      memoryDemandMb: demandMb,
      vms,
    };
  }

  vm(name: string): VmState {
    const vm = this.byName.get(name);
    if (vm === undefined) throw new Error(`host "${this.name}" has no VM "${name}" (VMs: ${listNames(this.byName.keys())})`);
    return vm;
  }

  /** A submit to a crashed VM fails on the next turn of the clock, never inside submit(). */
  private failSoon(vm: VmState, onDone: (result: JobResult) => void): JobHandle {
    let done = false;
    const finish = (reason: 'crashed' | 'cancelled'): void => {
      if (done) return;
      done = true;
      pending();
      onDone(this.failure(vm, reason));
    };
    const pending = this.clock.schedule(0, () => finish('crashed'));
    return { cancel: () => finish('cancelled') };
  }

  private failure(vm: VmState, reason: 'crashed' | 'cancelled'): JobResult {
    return { ok: false, reason, vm: vm.name, host: this.name };
  }

  /**
   * Bring the model up to the wall clock: what was due before now completes first (advance). The
   * jobs that ended on the way are called back on the next turn of the clock, never inside the
   * call that caught up (a submit, a snapshot): a callback may submit again or stop the host.
   */
  private enter(): void {
    this.advance(this.clock.now(), false);
    if (this.endedRead < this.endedCount) this.clock.schedule(0, this.deliverLater);
  }

  private readonly deliverLater = (): void => this.deliver();

  /**
   * Run every completion due before `toMs` (and at it, when `inclusive`: the timer's own event;
   * elsewhere a completion at the very instant of another event waits for its timer, as it would
   * on time), each at its own model instant, then move model time to `toMs`. On the VirtualClock
   * nothing is ever due before an event, so only the timer's own completions run here.
   */
  private advance(toMs: Millis, inclusive: boolean): void {
    if (inclusive) while (this.timerAtMs <= toMs) this.completeDue(this.timerAtMs);
    else while (this.timerAtMs < toMs) this.completeDue(this.timerAtMs);
    if (toMs > this.nowMs) this.nowMs = toMs;
  }

  /** Charge every VM up to model time at its current rates (VmState.chargeTo). */
  private update(): void {
    const now = this.nowMs;
    for (const vm of this.vms) vm.chargeTo(now);
  }

  /** Remove a live job from the VM's books (its heap entry, if still there, is skipped lazily). */
  private endJob(job: Job): void {
    job.done = true;
    const vm = job.state;
    vm.running--;
    vm.completionStale = true;
    vm.workingSetMb -= job.workingSetMb;
  }

  /** End every live job of `vm` with `reason`; their callbacks wait for deliver(). */
  failAll(vm: VmState, reason: 'crashed' | 'cancelled'): void {
    for (let job = vm.liveTop(); job !== undefined; job = vm.liveTop()) {
      vm.popJob();
      this.endJob(job);
      job.failure = reason;
      this.ending(job);
    }
  }

  /** Recompute rates and the completion timer after a change. */
  private settle(): void {
    this.reschedule(this.recompute());
  }

  /**
   * The same as settle() after a change to one VM's jobs only (a submit, a completion, a cancel),
   * the event behind nearly every call, in two cases that leave the water-fill's result as it was,
   * so that only this VM's share and rates can change and its neighbours' inputs, hence their
   * rates and completion times, are the same numbers as before: they are left alone, which spares
   * the event the water-fill and a rate update per neighbour.
   * - While the host's cores cover every claimant's demand, before and after, water-filling gives
   *   each VM exactly its demand.
   * - On a contended host (issue 19), when the VM's demand and weight did not change (a busy VM
   *   using all its vCPUs got one more request or finished one of several), the water-fill has the
   *   same inputs. Its neighbours are still charged, as settle() would: the instants at which a VM
   *   is charged decide the last bits of its counters, and seeded results stay bit-identical.
   */
  private settleOne(vm: VmState): void {
    const share = this.share;
    const before = share.demand[vm.index];
    const demand = (share.demand[vm.index] = vm.cappedDemand());
    if (this.uncontended) {
      if (!this.demandsFit(demand - before)) {
        this.settle();
        return;
      }
      share.alloc[vm.index] = demand;
    } else if (demand === before && this.weightOf(vm, vm.demandCores()) === share.weight[vm.index]) {
      this.update();
    } else {
      this.settle();
      return;
    }
    vm.setRates(share.alloc[vm.index], this.nowMs);
    this.completions.set(vm.index, vm.completionAtMs, vm.dueFromMs);
    this.reschedule(this.completions.earliestMs);
  }

  /**
   * A VM's weight in the water-fill, wanting `wantedCores`. A hosted VM's vCPUs are host threads,
   * scheduled like the host's own: with per-thread sharing a VM with four runnable vCPUs weighs as
   * much as four busy host processes.
   */
  private weightOf(vm: VmState, wantedCores: number): number {
    return this.weighsThreads ? vm.weight * wantedCores : vm.weight;
  }

  /**
   * share.fits(cores) after one claimant's demand changed by `changeCores`: from the running total
   * while every demand is a whole number of cores (vCPUs, whole background and caps), where any
   * order of summing gives the same exact total; otherwise by summing, as share.fits does.
   */
  private demandsFit(changeCores: number): boolean {
    if (this.demandWhole && Number.isInteger(changeCores)) {
      this.demandTotal += changeCores;
      return this.demandTotal <= this.spec.cores;
    }
    this.demandWhole = false;
    return this.share.fits(this.spec.cores);
  }

  /**
   * Share the cores (water-fill) and set every VM's rates; returns the earliest completion over all
   * VMs. Each VM caches its next completion time and recomputes it only when its rate or its jobs
   * changed, so when the earliest completion is unchanged it comes out bit-identical and the host's
   * timer stays armed instead of being cancelled and re-armed.
   */
  private recompute(): number {
    const { demand, weight, alloc } = this.share;
    const vms = this.vms;
    const now = this.nowMs;
    // One pass per VM: charge it (before its rates change), then read its demand and weight. The
    // total is summed in slot order, host load last, as share.total() would.
    let total = 0;
    let whole = true;
    for (let i = 0; i < vms.length; i++) {
      const vm = vms[i];
      vm.chargeTo(now);
      const wantedCores = vm.demandCores();
      const d = (demand[i] = vm.capped(wantedCores));
      weight[i] = this.weightOf(vm, wantedCores);
      total += d;
      if (!Number.isInteger(d)) whole = false;
    }
    if (this.spec.hypervisor === 'type2') {
      const hostLoad = (demand[vms.length] = this.spec.hostLoad);
      weight[vms.length] = hostLoad;
      total += hostLoad;
      if (!Number.isInteger(hostLoad)) whole = false;
    }
    this.uncontended = this.share.run(this.spec.cores, total);
    this.demandTotal = total;
    this.demandWhole = whole;
    const completions = this.completions;
    for (let i = 0; i < vms.length; i++) {
      const vm = vms[i];
      vm.setRates(alloc[i], now);
      completions.setLeaf(i, vm.completionAtMs, vm.dueFromMs);
    }
    completions.rebuild();
    return completions.earliestMs;
  }

  /**
   * Keep one timer, at the earliest completion over all VMs; a timer already there stays. It is set
   * on the wall clock's reading: a due time already past (a catch-up) fires at once.
   */
  private reschedule(atMs: number): void {
    if (atMs === this.timerAtMs) return;
    if (atMs === Infinity) {
      this.timer.clear();
      this.timerAtMs = Number.NaN;
      return;
    }
    this.timerAtMs = atMs;
    this.timer.set(atMs - this.clock.now());
  }

  /**
   * The completion timer. Node's timers have millisecond resolution and fire late when the loop is
   * busy, and may run a fraction of a millisecond early: either way the model settles on its own
   * due time, and the difference is reported as lateness.
   */
  private handleTimer(): void {
    const dueMs = this.timerAtMs;
    const wallMs = this.clock.now();
    this.onTimerLateness?.(wallMs - dueMs);
    this.advance(wallMs > dueMs ? wallMs : dueMs, true);
    this.deliver();
  }

  /** The completions due at `atMs`, the earliest in the model: end them, then re-divide the cores. */
  private completeDue(atMs: Millis): void {
    this.timerAtMs = Number.NaN;
    if (atMs > this.nowMs) this.nowMs = atMs;
    const now = this.nowMs;
    let finishing: VmState | undefined;
    let finishingVms = 0;
    // Only the VMs whose due test can pass by now (CompletionTree), in the order of a pass over all.
    const due = this.dueSlots;
    const candidates = this.completions.collectDue(dueHorizonMs(now), due);
    for (let c = 0; c < candidates; c++) {
      const vm = this.vms[due[c]];
      // A VM with nothing due is neither charged (its rates do not change) nor its job heap looked
      // at (a chain of objects, out of cache on large fleets): the smallest tag in the heap bounds
      // its first live job's from below, and a job with a larger tag is due later, if at all.
      if (vm.running === 0 || !isDue(vm.firstTagMs, vm.progressAt(now), vm.progressRate, now)) continue;
      vm.chargeTo(now);
      for (let job = vm.liveTop(); job !== undefined && isDue(job.tagMs, vm.progressMs, vm.progressRate, now); job = vm.liveTop()) {
        if (finishing !== vm) finishingVms++;
        finishing = vm;
        vm.popJob();
        this.endJob(job);
        vm.completed++;
        if (vm.cost.countsIoTraps) vm.ioTraps += job.ioOps;
        if (vm.cost.countsPageTableTraps) vm.pageTableTraps += job.pageTableUpdates;
        this.ending(job);
      }
    }
    if (finishingVms === 1) this.settleOne(finishing as VmState);
    else {
      // Nothing due (rounding in a cached completion time): every VM's time is recomputed from
      // its progress now, and the due test above then guarantees the next timer lands later.
      if (finishingVms === 0) for (const vm of this.vms) vm.completionStale = true;
      this.settle();
    }
  }

  /**
   * Run a change from disturbances.ts (an owner, a fault, a migration step, a runtime control) as
   * one event at its model instant `atMs`: complete what was due
   * before it, charge, change, recompute, report, deliver; then catch up with the wall clock.
   */
  transition(atMs: Millis, change: () => void): void {
    this.advance(atMs, false);
    this.update();
    change();
    for (const vm of this.vms) vm.refreshStatus();
    this.settle();
    for (const vm of this.vms) {
      const status = vm.status;
      if (status === vm.reportedStatus) continue;
      vm.reportedStatus = status;
      for (const listener of this.listeners) listener(vm.spec.name, status);
    }
    this.deliver();
    this.enter();
  }

  /**
   * Call back the jobs that ended in this event, once the model is consistent. Callbacks may submit,
   * cancel or even stop the host; a nested call continues from the shared read position, so every
   * job is called back exactly once.
   */
  private deliver(): void {
    const ended = this.ended;
    while (this.endedRead < this.endedCount) {
      const job = ended[this.endedRead] as Job;
      ended[this.endedRead++] = undefined;
      if (job.failure !== undefined) {
        job.onDone(this.failure(job.state, job.failure));
        continue;
      }
      job.onDone(job);
    }
    // Reset by count, not `length = 0`: truncating is a runtime call, and this runs on every event;
    // the slots were cleared as they were read.
    this.endedCount = this.endedRead = 0;
  }

  /** Queue a job's callback for deliver(). */
  private ending(job: Job): void {
    if (job.failure === undefined) job.end(this.nowMs);
    this.ended[this.endedCount++] = job;
  }

  crash(vmName: string): void {
    this.disturbances.crash(vmName);
  }

  restore(vmName: string): void {
    this.disturbances.restore(vmName);
  }

  ownerReturns(vmName: string, mode: 'suspend' | 'migrate', forMs: Millis): void {
    this.disturbances.ownerReturns(vmName, mode, forMs);
  }

  setHostLoad(cores: number): void {
    this.disturbances.setHostLoad(cores);
  }

  hostLoad(): number {
    return this.spec.hostLoad;
  }
}

/** A host model of `host` running `vms`. Throws a clear Error on an inconsistent host (see the constructor). */
export function createHost(host: HostSpec, vms: readonly VmSpec[], deps: HostDeps): HypervisorHost {
  return new HostModel(host, vms, deps);
}
