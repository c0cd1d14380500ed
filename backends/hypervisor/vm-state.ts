import type { VmSpec } from '../../core/scenario.js';
import type { VmServiceCost } from './cost-model.js';
import type { Cancel } from '../../core/clock.js';
import type { JobHandle, JobResult, JobTiming, RequestCost, VmPort, VmStatus } from './types.js';

/** The host of a VM and of its jobs: a submit (VmPort) and a cancel (JobHandle) go to it, and the timing's `host` is its name. */
export interface JobOwner {
  readonly name: string;
  submitTo(vm: VmState, cost: RequestCost, onDone: (result: JobResult) => void): JobHandle;
  cancelJob(job: Job): void;
}

/**
 * One running request. All requests of a VM progress at the same rate (processor sharing inside the
 * VM), so instead of charging each job on every event the VM keeps cumulative per-job counters
 * (progress, CPU, steal, queueing, suspension: the "virtual time" of GPS, Parekh & Gallager 1993)
 * and a job stores their values when it started: its finish tag is progress-at-start + work, and
 * the VM's next completion is the smallest tag. Per host event the work is O(VMs), not O(jobs).
 *
 * A job that completes is also its own successful JobResult and JobTiming: the caller's onDone gets
 * the job itself, so a request allocates one object (and its numbers' boxes) instead of two; the
 * host drops it once delivered, and its handle's cancel is a no-op from then on (`done`).
 */
export class Job implements JobHandle, JobTiming {
  // Own fields, not getters, so that a copy of the result or its timing ({ ...timing }) keeps them.
  readonly ok = true;
  readonly vm: string;
  readonly host: string;
  done = false;
  /**
   * A closure, not a method, so a caller may pass `handle.cancel` around detached; made when asked
   * for, since most jobs are never cancelled (the simulator never reads it: one allocation per job).
   */
  get cancel(): Cancel {
    return () => this.state.host.cancelJob(this);
  }
  /** Set when the job ends other than by completing (crash, stop); read when results are delivered. */
  failure: 'crashed' | 'cancelled' | undefined;
  /** The model instant it ended at (its answer may be delivered later, after a catch-up). */
  finishedAt = 0;
  readonly tagMs: number;
  /**
   * The VM's per-job counters when the job started; `end()` turns them into the job's own totals
   * (serviceMs is its CPU time), read when its result is delivered (which after a catch-up is
   * later than its end).
   */
  serviceMs: number;
  stealMs: number;
  queuedMs: number;
  suspendedMs: number;

  constructor(
    readonly state: VmState,
    /** The host's submission order: it breaks ties between equal finish tags. */
    readonly seq: number,
    readonly submittedAt: number,
    workMs: number,
    readonly ioOps: number,
    readonly pageTableUpdates: number,
    readonly workingSetMb: number,
    readonly onDone: (result: JobResult) => void,
  ) {
    this.vm = state.name;
    this.host = state.host.name;
    this.tagMs = state.progressMs + workMs;
    this.serviceMs = state.jobCpuMs;
    this.stealMs = state.jobStealMs;
    this.queuedMs = state.jobQueuedMs;
    this.suspendedMs = state.jobSuspendedMs;
  }

  /** The timing of the job as a result: the job itself (it is never handed out before it ended). */
  get timing(): JobTiming {
    return this;
  }

  /** Completed at model time `atMs`, its VM charged up to it: keep what the job received. */
  end(atMs: number): void {
    const vm = this.state;
    this.finishedAt = atMs;
    this.serviceMs = vm.jobCpuMs - this.serviceMs;
    this.stealMs = vm.jobStealMs - this.stealMs;
    this.queuedMs = vm.jobQueuedMs - this.queuedMs;
    this.suspendedMs = vm.jobSuspendedMs - this.suspendedMs;
  }
}

/**
 * A job is due when the work it has left, or the time that work would take, is within rounding of
 * zero. Relative, because progress counters and clock readings grow with simulated time and their
 * rounding error with them; the time test guarantees the next timer lands strictly later.
 */
const DUE_WORK_RELATIVE = 1e-9;
const DUE_TIME_RELATIVE = 1e-12;

/**
 * Whether a job with finish tag `tagMs` is done when its VM has made `progressMs` of per-job
 * progress at `progressRate`. Monotone in the tag: a job with a larger tag is not due earlier.
 */
export function isDue(tagMs: number, progressMs: number, progressRate: number, nowMs: number): boolean {
  const leftMs = tagMs - progressMs;
  return leftMs <= DUE_WORK_RELATIVE * Math.max(1, tagMs) || leftMs / progressRate <= DUE_TIME_RELATIVE * Math.max(1, nowMs);
}

/**
 * The latest instant `nowMs` may reach while only VMs whose `dueFromMs` is at most it can pass
 * isDue: twice the time test's slack, so that rounding in either bound cannot leave a due VM out.
 */
export function dueHorizonMs(nowMs: number): number {
  return nowMs + 2 * DUE_TIME_RELATIVE * Math.max(1, nowMs);
}

/** The most a VM's reported slowdown can be, so `load` stays finite while it makes no progress. */
const MAX_SLOWDOWN = 1000;

/** Whether job `a` completes before job `b`: the smaller finish tag, on a tie the earlier submission. */
function before(a: Job, b: Job): boolean {
  return a.tagMs < b.tagMs || (a.tagMs === b.tagMs && a.seq < b.seq);
}

/**
 * A VM on a host model: its spec, its Condor/fault state, its jobs and its rates. It is also its
 * own VmPort (host.port): on a large fleet a port object between a request and its VM would be one
 * more cache miss per submit and per answer.
 */
export class VmState implements VmPort {
  /** Live jobs; the heap may also hold cancelled ones (lazy deletion), skipped by `liveTop`. */
  running = 0;
  /**
   * The job heap: a binary min-heap by (finish tag, submission order) in the first `queued` slots,
   * only through addJob, popJob and liveTop. The jobs' own fields are its keys, so a submit and a
   * completion touch this one array and the jobs they move (a heap with its keys in arrays of their
   * own was five more objects per VM, each a cache miss per event on a large fleet); a VM holds a
   * few jobs, most often none or one.
   */
  private readonly jobs: Array<Job | undefined> = [];
  /** Jobs in the heap, cancelled ones included. */
  private queued = 0;
  /**
   * The smallest finish tag in `jobs` (Infinity when empty), cancelled jobs included: a lower bound
   * on the first live job's tag, read without touching the heap or the job (on a large fleet each
   * is a cache miss, and a completion looks at every busy VM of its host).
   */
  firstTagMs = Infinity;
  workingSetMb = 0;

  // Cumulative per-job counters (ms): what one job of this VM has received since the VM was created.
  progressMs = 0;
  jobCpuMs = 0;
  jobStealMs = 0;
  jobQueuedMs = 0;
  jobSuspendedMs = 0;

  // Rates per ms of time, set by the host on every recompute.
  /** Work done per job (physical core share divided by the slow-fault factor). */
  progressRate = 0;
  /** Physical cores per job, and what each job wanted within its VM (min(1, vcpus / threads)). */
  jobGotCores = 0;
  jobWantedCores = 0;
  /** 1 while the VM makes no progress (suspended, migrating), else 0. */
  jobSuspendedRate = 0;
  /** The VM's vCPU demand (requests + background, at most vcpus) and the physical cores it got. */
  wantedCores = 0;
  gotCores = 0;
  /** When the first job completes at the current rates (set by setRates), and whether to recompute it. */
  completionAtMs = Infinity;
  completionStale = true;
  /**
   * A lower bound on the first instant at which isDue(firstTagMs, ...) can hold at the current
   * rates (-Infinity: already; Infinity: never), set with completionAtMs: the host's CompletionTree
   * finds the VMs a completion must look at from it, without looking at the others.
   */
  dueFromMs = Infinity;

  // Totals for the snapshot.
  cpuMs = 0;
  stealMs = 0;
  completed = 0;
  ioTraps = 0;
  pageTableTraps = 0;

  // Condor and fault state; `status` derives from it (refreshStatus) and is cached for the hot path.
  crashDepth = 0;
  /** A migration is under way (from the owner's return until it resumes); down while it stops the VM. */
  migrating = false;
  migrationDown = false;
  ownerSuspended = false;
  slowFactor = 1;
  status: VmStatus = 'running';
  /** Status last reported to listeners. */
  reportedStatus: VmStatus = 'running';

  // The spec's numbers read on every event, copied here: on a large fleet the spec object and its
  // `background` object are two more cache misses per event.
  readonly name: string;
  readonly vcpus: number;
  readonly backgroundCores: number;
  readonly capCores: number;
  readonly weight: number;

  constructor(
    readonly spec: VmSpec,
    /** Its host, which runs its model: its submits and its jobs' cancels go there. */
    readonly host: JobOwner,
    /** Its position among the host's VMs (its slot in the water-fill arrays). */
    readonly index: number,
    /** Its service-time coefficients on its host. */
    readonly cost: VmServiceCost,
    /** When its counters were last charged (chargeTo). */
    private chargedAtMs: number,
  ) {
    this.name = spec.name;
    this.vcpus = spec.vcpus;
    this.backgroundCores = spec.background.cpuCores;
    this.capCores = spec.capCores;
    this.weight = spec.weight;
  }

  /** VmPort: its name. */
  get vm(): string {
    return this.name;
  }

  /** VmPort: run a request on this VM (its host's submitTo). */
  submit(cost: RequestCost, onDone: (result: JobResult) => void): JobHandle {
    return this.host.submitTo(this, cost, onDone);
  }

  /** Recompute `status` after a change to the Condor or fault state. */
  refreshStatus(): void {
    if (this.crashDepth > 0) this.status = 'crashed';
    else if (this.migrationDown) this.status = 'migrating';
    else if (this.ownerSuspended) this.status = 'suspended';
    else this.status = 'running';
  }

  /** The per-job progress counter as chargeTo(nowMs) would leave it, without charging. */
  progressAt(nowMs: number): number {
    const dtMs = nowMs - this.chargedAtMs;
    return dtMs > 0 ? this.progressMs + this.progressRate * dtMs : this.progressMs;
  }

  /**
   * Charge the time since the last charge at the current rates. The host charges a VM before
   * anything its rates depend on changes, and otherwise only when it reads the VM's counters, so
   * a VM nobody touched is not charged on its neighbours' events: piecewise-constant rates make
   * one charge over a long interval the same as many short ones.
   */
  chargeTo(nowMs: number): void {
    const dtMs = nowMs - this.chargedAtMs;
    if (dtMs <= 0) return;
    this.chargedAtMs = nowMs;
    this.progressMs += this.progressRate * dtMs;
    this.jobCpuMs += this.jobGotCores * dtMs;
    this.jobStealMs += (this.jobWantedCores - this.jobGotCores) * dtMs;
    // A suspended VM has jobWantedCores 0 and is charged suspension, not queueing.
    this.jobQueuedMs += (1 - this.jobWantedCores - this.jobSuspendedRate) * dtMs;
    this.jobSuspendedMs += this.jobSuspendedRate * dtMs;
    this.cpuMs += this.gotCores * dtMs;
    this.stealMs += (this.wantedCores - this.gotCores) * dtMs;
  }

  addJob(job: Job): void {
    const jobs = this.jobs;
    let i = this.queued++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = jobs[parent] as Job;
      if (!before(job, above)) break;
      jobs[i] = above;
      i = parent;
    }
    jobs[i] = job;
    if (job.tagMs < this.firstTagMs) this.firstTagMs = job.tagMs;
  }

  /** Remove the heap's top (the job liveTop returned). */
  popJob(): void {
    const jobs = this.jobs;
    const n = --this.queued;
    const last = jobs[n] as Job;
    // Cleared so the heap does not keep a finished job alive.
    jobs[n] = undefined;
    if (n === 0) {
      this.firstTagMs = Infinity;
      return;
    }
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      let first = jobs[child] as Job;
      if (child + 1 < n) {
        const right = jobs[child + 1] as Job;
        if (before(right, first)) {
          child++;
          first = right;
        }
      }
      if (!before(first, last)) break;
      jobs[i] = first;
      i = child;
    }
    jobs[i] = last;
    this.firstTagMs = (jobs[0] as Job).tagMs;
  }

  /** The live job that finishes first, dropping cancelled ones from the top of the heap. */
  liveTop(): Job | undefined {
    for (;;) {
      const top = this.queued > 0 ? this.jobs[0] : undefined;
      if (top === undefined || !top.done) return top;
      this.popJob();
    }
  }

  /**
   * The first live job's finish tag (Infinity: none). While the heap holds no cancelled job (its
   * size is the live count) that is `firstTagMs`, read without touching the heap or the job: on a
   * contended host every VM's completion is recomputed on every event.
   */
  private firstLiveTagMs(): number {
    if (this.queued === this.running) return this.firstTagMs;
    const top = this.liveTop();
    return top === undefined ? Infinity : top.tagMs;
  }

  /**
   * The memory the host must back for this VM: its resident memory plus its running requests'
   * working sets, which live inside its maximum (memoryMb), so never more than that.
   */
  memoryInUseMb(): number {
    return Math.min(this.spec.memoryMb, this.spec.residentMb + this.workingSetMb);
  }

  /** The VM's vCPU demand now: min(vcpus, requests + background) while it runs, else 0. */
  demandCores(): number {
    return this.status === 'running' ? Math.min(this.vcpus, this.running + this.backgroundCores) : 0;
  }

  /** demandCores(), at most its cap: what the host shares its cores by. */
  cappedDemand(): number {
    return this.capped(this.demandCores());
  }

  /** `cores` at most the VM's cap. */
  capped(cores: number): number {
    return this.capCores > 0 ? Math.min(cores, this.capCores) : cores;
  }

  /**
   * Set the rates (the cores the VM wants and the cores the host gave it, and the per-job rates
   * that follow) and return when the VM's next job completes at these rates (Infinity: none, or no
   * progress). Wanted and got change here only, together, after the host charged the VM to now:
   * the steal rate (wanted - got) is never read with one of them new and the other old. (When
   * cappedDemand() set wantedCores ahead of gotCores, a charge at a later clock reading in the same
   * event, a cancel say, ran at wanted 0 and got 1: steal went down, and a host whose steal total
   * went below 0 failed every /metrics scrape, issue 17.9.) The completion time is cached:
   * recomputed only when the progress rate changed or `completionStale` was set (its jobs changed,
   * or the host asks for a fresh reading), since with the same rate and the same first job it is
   * the same instant.
   */
  setRates(gotCores: number, nowMs: number): number {
    const rateBefore = this.progressRate;
    this.assignRates(gotCores);
    if (this.progressRate !== rateBefore || this.completionStale) {
      this.completionStale = false;
      const tagMs = this.progressRate > 0 ? this.firstLiveTagMs() : Infinity;
      this.completionAtMs = tagMs === Infinity ? Infinity : nowMs + Math.max(0, tagMs - this.progressMs) / this.progressRate;
      this.dueFromMs = this.running === 0 ? Infinity : this.dueFrom(nowMs);
    }
    return this.completionAtMs;
  }

  /**
   * When isDue(firstTagMs, progressAt(t), progressRate, t) can first hold, charged up to `nowMs`:
   * early by twice the work test's slack (so the work test is covered, and rounding in the
   * progress counters, far below that slack, cannot make it late); the time test is covered by
   * dueHorizonMs.
   */
  private dueFrom(nowMs: number): number {
    const tagMs = this.firstTagMs;
    if (tagMs === Infinity) return Infinity;
    const slackMs = 2 * DUE_WORK_RELATIVE * Math.max(1, tagMs);
    const leftMs = tagMs - this.progressMs;
    if (leftMs <= slackMs) return -Infinity;
    return this.progressRate > 0 ? nowMs + (leftMs - slackMs) / this.progressRate : Infinity;
  }

  private assignRates(gotCores: number): void {
    const wantedCores = (this.wantedCores = this.demandCores());
    this.gotCores = gotCores;
    if (this.status !== 'running') {
      this.progressRate = this.jobGotCores = this.jobWantedCores = 0;
      this.jobSuspendedRate = 1;
      return;
    }
    const threads = this.running + this.backgroundCores;
    this.jobSuspendedRate = 0;
    this.jobWantedCores = threads <= this.vcpus ? 1 : this.vcpus / threads;
    this.jobGotCores = wantedCores > 0 ? this.jobWantedCores * (gotCores / wantedCores) : 0;
    this.progressRate = this.jobGotCores / this.slowFactor;
  }

  /** running / vcpus times how much slower than its own vCPUs allow a request progresses now. */
  load(): number {
    if (this.running === 0) return 0;
    const idealRate = Math.min(1, this.vcpus / this.running);
    const slowdown = Math.min(MAX_SLOWDOWN, this.progressRate > 0 ? idealRate / this.progressRate : MAX_SLOWDOWN);
    return (this.running / this.vcpus) * slowdown;
  }
}
