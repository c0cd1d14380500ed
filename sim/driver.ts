import type { JobHandle, JobResult, VmPort } from '../backends/hypervisor/types.js';
import type { VirtualClock } from '../core/virtual-clock.js';
import type { Millis } from '../core/types.js';
import type { Balancer } from '../dispatcher/balancer/balancer.js';
import type { DeadlineOwner, DeadlineQueue } from '../dispatcher/balancer/deadlines.js';
import { refusalStatus, type Admission, type AttemptOutcome, type Lease, type RequestInfo, type Ticket } from '../dispatcher/balancer/types.js';
import type { RequestClass } from '../core/scenario.js';
import { ANSWER_CODES, NO_BACKEND, type RequestEvents } from '../core/request-events.js';
import { GENERATOR_ADDRESS, SESSION_HEADER } from '../core/workload.js';
import type { SessionKeying } from '../policies/policy.js';
import type { SimWorkload } from './workload.js';

/**
 * The simulator's transport: it does for each request exactly what the live dispatcher does, in
 * the same order, with a VM submit where the live one has an HTTP round trip:
 *
 *   balancer.begin(info) -> lease (now, or after the dispatcher queue) or a refusal (503)
 *   -> the VM's host .submit(cost)
 *   -> answered: the VM's load goes back to that dispatcher (balancer.reportLoad, what X-VM-Load
 *      does live), then lease.end({response 200}); a sticky repin updates the session's pin
 *   -> VM crashed: lease.end({connect-error}); lease.retry() to another backend, or a 502;
 *   -> VM silent past the upstream timeout: lease.end({timeout, perTry}); lease.retry(), or a 504.
 *
 * A VM never answers 5xx (a crashed one refuses, a suspended one is silent, and so do live
 * replicas), so `retryOn: gateway-error` finds nothing to retry here; whether a failure is retried
 * is the Balancer's one decision in both modes (balancer/retries.ts).
 *
 * Several dispatchers share the fleet and each sees only its own leases and the loads reported
 * on its own responses. Open-loop arrival i goes to dispatcher i mod K; closed-loop client c
 * always uses dispatcher c mod K (a client keeps its connection).
 *
 * Per request there is one small object holding its state, which is also the RequestInfo the
 * Balancer keeps, and one callback that both the Balancer (an Admission) and the host (a JobResult)
 * call, so the request is found again without a lookup. These objects are reused: a finished
 * request goes to a free list (no garbage per request), which is safe because nothing holds a
 * request once it finished (its job was delivered or cancelled, its lease ended, it is in no
 * queue, its deadlines skip it by generation). A closed-loop client may issue its next request,
 * on the same object, from inside finish().
 * Each backend's VM port is resolved once and is the backend's BackendInit.data, which the
 * Balancer hands back on every lease, so the hot path looks nothing up by id: on a fleet of 10,000
 * backends a map lookup per request is a cache miss per request, and so is every object between
 * the lease and the VM (the host model's port is the VM itself).
 */

const ANSWERED: AttemptOutcome = { kind: 'response', status: 200 };
const ANSWERED_CODE = '200';
const CONNECT_ERROR: AttemptOutcome = { kind: 'connect-error' };
const TIMED_OUT: AttemptOutcome = { kind: 'timeout' };
/** The attempt's own (upstream) timeout: a retryable request may go again elsewhere, as live. */
const PER_TRY_TIMED_OUT: AttemptOutcome = { kind: 'timeout', perTry: true };
/** What a request abandoned while it waited for a retry slot does with the slot when it comes. */
const ABANDONED: AttemptOutcome = { kind: 'client-abort' };
/** How long a closed-loop client waits after a failed request before its next one. */
const FAILED_CLIENT_PAUSE_MS: Millis = 1;

export interface DriverOptions {
  readonly clock: VirtualClock;
  readonly balancers: readonly Balancer[];
  readonly workload: SimWorkload;
  /** Where the request events go (the run's accumulator): the same events the live dispatcher emits. */
  readonly events: RequestEvents;
  /** Requests that arrive before this are served but not measured. */
  readonly warmupMs: Millis;
  /** Stop issuing at this time (open and closed loop)... */
  readonly stopAtMs: Millis;
  /** ...or once this many measured requests were issued. */
  readonly measuredLimit: number;
  readonly retryable: (cls: RequestClass) => boolean;
  /**
   * The dispatcher's timeouts (scenario `dispatcher.timeouts`), as the live dispatcher keeps them:
   * `upstream` from each attempt's dispatch to its answer (a VM sends nothing before it is done),
   * `total` from arrival, queueing and retries included. Either answers 504; an attempt cut off
   * counts against its backend.
   */
  readonly deadlines: { readonly upstream: DeadlineQueue; readonly total: DeadlineQueue };
  /** `dispatcher.clientAddress: socket`: every generated request has the generator's address as its client key. */
  readonly socketClients: boolean;
  /**
   * Run the window as `compare`'s live generators do (loadtest/open-loop.ts, closed-loop.ts): the
   * open loop's arrival that falls at or past the warm-up's end is not sent, and a closed-loop
   * client answered past it sends nothing more; once every warm-up request is answered the window
   * starts from an empty fleet, with a fresh gap (open loop) or every client on a new session
   * (closed loop: live, each phase has new connections), and lasts `stopAtMs - warmupMs`. Without
   * it the window follows the warm-up at once.
   */
  readonly drainAfterWarmup?: boolean;
  /** With drainAfterWarmup: the measured window starts now, the drain being over. */
  readonly onWindowStart?: (atMs: Millis) => void;
}

type Event = Admission | JobResult;

class SimRequest implements RequestInfo, DeadlineOwner {
  lease: Lease | undefined = undefined;
  /** Its place in the Balancer's queue while it waits for its first admission. */
  ticket: Ticket | undefined = undefined;
  /** The job on its VM while onVm. */
  job: JobHandle | undefined = undefined;
  /** Which request this object is now (objects are reused) and which attempt: for deadlines. */
  generation = 0;
  attemptGeneration = 0;
  /** Answered (a timeout) while it waited for a retry slot: the slot, when it comes, is given back. */
  abandoned = false;
  /** Set while the driver cancels its job: the host reports the cancellation back at once. */
  cancelling = false;
  /** The VM of its attempt: submit, and the load it reports on a response (what X-VM-Load carries live). */
  vm: VmPort | undefined = undefined;
  /**
   * Whether the request is on a VM, so the next callback is the host's JobResult; otherwise it is
   * the Balancer's Admission. A flag, not a look at the event: `'ok' in event` over four shapes of
   * object is a megamorphic property test on every callback.
   */
  onVm = false;
  /** Session index, or -1. */
  session = -1;
  /** This request's native cost, drawn into the object's own (SimWorkload.costOf). */
  readonly cost = { cpuMs: 0, ioOps: 0, pageTableUpdates: 0, memoryMb: 0 };
  arrivedAt: Millis = 0;
  dispatcher = 0;
  connection = -1;
  // RequestInfo, what the Balancer and the policy see of the request:
  sessionKey: string | undefined = undefined;
  clientKey: string | undefined = undefined;
  index = 0;
  pinned: string | undefined = undefined;
  requestKey = '';
  retryable = false;
  /** Called by the Balancer with an Admission and by the host with a JobResult. */
  readonly callback: (event: Event) => void;

  constructor(private readonly driver: SimDriver) {
    this.callback = (event) => {
      if (this.cancelling) return;
      if (this.abandoned) driver.abandonedAdmission(this, event as Admission);
      else if (this.onVm) driver.jobDone(this, event as JobResult);
      else driver.admitted(this, event as Admission);
    };
  }

  awaits(queue: DeadlineQueue, generation: number): boolean {
    return this.driver.awaits(this, queue, generation);
  }

  deadlinePassed(queue: DeadlineQueue): void {
    this.driver.timedOut(this, queue);
  }
}

export class SimDriver {
  /** Requests issued and not yet answered or failed. */
  outstanding = 0;
  /** Still issuing new requests. */
  issuing = true;
  /** When issuing stopped (the end of the measured window). */
  stoppedAtMs: Millis = 0;
  issued = 0;
  /** Open-loop arrivals run so far: simulation events, though not clock events (see run). */
  arrivals = 0;
  private measuredIssued = 0;
  /** When the next open-loop request arrives; Infinity in the closed loop and once issuing stopped. */
  private nextArrivalAtMs: Millis = Infinity;
  private readonly free: SimRequest[] = [];
  /** When the measured window starts; moved to the drain's end with drainAfterWarmup. */
  windowStartMs: Millis;
  /** Stop issuing at this time: opts.stopAtMs, moved by as much as the window start was. */
  private stopAtMs: Millis;
  /** drainAfterWarmup, before the warm-up's end; once it is past, windowStartMs is Infinity until the drain is over. */
  private drainPending = false;

  /** Whether this run's window starts after a drain (drainAfterWarmup, with a warm-up). */
  get drains(): boolean {
    return this.opts.drainAfterWarmup === true && this.opts.warmupMs > 0;
  }

  constructor(private readonly opts: DriverOptions) {
    this.windowStartMs = opts.warmupMs;
    this.stopAtMs = opts.stopAtMs;
  }

  start(): void {
    const w = this.opts.workload;
    this.drainPending = this.drains;
    if (w.openLoop) this.nextArrivalAtMs = this.opts.clock.now() + Math.max(0, w.nextGapMs());
    else for (let c = 0; c < w.connections; c++) this.issue(c);
  }

  /** The warm-up has drained: the window starts now, empty, as the live generators' next phase() does. */
  private startDrainedWindow(): void {
    const now = this.opts.clock.now();
    const w = this.opts.workload;
    this.windowStartMs = now;
    this.stopAtMs = now + (this.opts.stopAtMs - this.opts.warmupMs);
    this.opts.onWindowStart?.(now);
    if (w.openLoop) this.nextArrivalAtMs = now + Math.max(0, w.nextGapMs());
    else {
      w.startNewSessions();
      for (let c = 0; c < w.connections; c++) this.issue(c);
    }
  }

  private stopIssuing(): void {
    if (!this.issuing) return;
    this.issuing = false;
    this.stoppedAtMs = this.opts.clock.now();
  }

  /** May another request start now? Stops issuing once the window or the count is reached. */
  private mayIssue(): boolean {
    if (!this.issuing) return false;
    if (this.opts.clock.now() >= this.stopAtMs || this.measuredIssued >= this.opts.measuredLimit) {
      this.stopIssuing();
      return false;
    }
    return true;
  }

  private openLoopArrival(): void {
    const clock = this.opts.clock;
    clock.runUntil(this.nextArrivalAtMs);
    this.arrivals++;
    if (this.drainPending && clock.now() >= this.opts.warmupMs) {
      // The warm-up's last gap ran past its end: that arrival is not sent (live draws it too).
      this.nextArrivalAtMs = Infinity;
      this.drainPending = false;
      this.windowStartMs = Infinity;
      if (this.outstanding === 0) this.startDrainedWindow();
      return;
    }
    if (!this.mayIssue()) {
      this.nextArrivalAtMs = Infinity;
      return;
    }
    this.issue(-1);
    this.nextArrivalAtMs = clock.now() + Math.max(0, this.opts.workload.nextGapMs());
  }

  private issue(connection: number): void {
    const opts = this.opts;
    const w = opts.workload;
    const now = opts.clock.now();
    const index = this.issued++;
    const session = w.nextSession(connection);
    const cls = w.nextClass();
    if (now >= this.windowStartMs) this.measuredIssued++;
    const dispatcher = (connection < 0 ? index : connection) % opts.balancers.length;
    const req = this.free.pop() ?? new SimRequest(this);
    req.session = session;
    w.costOf(cls, index, req.cost);
    req.arrivedAt = now;
    req.dispatcher = dispatcher;
    req.connection = connection;
    // Keys as the live dispatcher reads them off the generated request (request-info.ts).
    const client = opts.socketClients ? GENERATOR_ADDRESS : w.clientKey(session);
    req.clientKey = client;
    req.sessionKey = this.sessionKeyOf(opts.balancers[dispatcher].policy.session, session, client);
    req.pinned = w.pinnedOf(session);
    req.requestKey = cls.route;
    req.retryable = opts.retryable(cls);
    req.index = index;
    const generation = ++req.generation;
    this.outstanding++;
    opts.events.arrived(now);
    opts.deadlines.total.add(req, generation);
    const ticket = opts.balancers[dispatcher].begin(req, req.callback);
    // Kept only while it waits in the queue: begin may have admitted it, or answered it already
    // (and a closed-loop client may have reused the object for its next request).
    if (req.generation === generation && req.lease === undefined) req.ticket = ticket;
  }

  admitted(req: SimRequest, result: Admission): void {
    const lease = result.lease;
    if (lease === undefined) {
      this.finish(req, 'failed', refusalStatus(result.refused) === 500 ? '500' : ANSWER_CODES.refused, NO_BACKEND);
      return;
    }
    this.opts.events.admitted(req.arrivedAt, lease.backend, lease.queuedMs, lease.attempt, lease.backendIndex);
    const vm = lease.backendData as VmPort | undefined;
    if (vm === undefined) throw new Error(`simulation: the balancer leased "${lease.backend}", which has no VM port`);
    req.ticket = undefined;
    req.lease = lease;
    req.vm = vm;
    req.onVm = true;
    this.opts.deadlines.upstream.add(req, ++req.attemptGeneration);
    req.job = vm.submit(req.cost, req.callback);
  }

  /**
   * The session key the live dispatcher would read for this policy's keying: the client for
   * `key: client`; the generated request's session header for `key: header` when the policy reads
   * that header; the session (its cookie) for `key: cookie`; none for a policy without sessions.
   */
  private sessionKeyOf(keying: SessionKeying | undefined, session: number, client: string): string | undefined {
    if (keying === undefined) return undefined;
    switch (keying.key) {
      case 'client':
        return client;
      case 'header':
        return (keying.headerName ?? SESSION_HEADER).toLowerCase() === SESSION_HEADER ? this.opts.workload.sessionKey(session) : undefined;
      case 'cookie':
        return this.opts.workload.sessionKey(session);
    }
  }

  /** A deadline of `req` still matters: its request (total) or its attempt on a VM (upstream) is unanswered. */
  awaits(req: SimRequest, queue: DeadlineQueue, generation: number): boolean {
    if (queue === this.opts.deadlines.upstream) return req.onVm && generation === req.attemptGeneration;
    return generation === req.generation && !req.abandoned;
  }

  /**
   * A timeout ran out, as the live dispatcher's does: the attempt on a VM is cut off (its job
   * cancelled, the lease ended as a timeout, counted against the backend); after the upstream
   * (per-try) timeout a retryable request goes again on another backend if the Balancer allows it;
   * otherwise, and for a request still waiting in the queue, the answer is 504. One waiting for a
   * retry slot is answered now and gives the slot back when it comes (live: the lease is ended at
   * once, as a client abort).
   */
  timedOut(req: SimRequest, queue: DeadlineQueue): void {
    const lease = req.lease;
    if (req.onVm && lease !== undefined) {
      const perTry = queue === this.opts.deadlines.upstream;
      req.onVm = false;
      req.cancelling = true;
      req.job?.cancel();
      req.cancelling = false;
      lease.end(perTry ? PER_TRY_TIMED_OUT : TIMED_OUT);
      this.opts.events.attemptEnded(req.arrivedAt, lease.backend, true, lease.backendIndex);
      if (lease.retry(req.callback)) return;
      this.finish(req, 'failed', ANSWER_CODES.timeout, lease.backend);
      return;
    }
    if (queue !== this.opts.deadlines.total) return;
    if (req.ticket !== undefined) {
      req.ticket.cancel();
      this.finish(req, 'failed', ANSWER_CODES.timeout, NO_BACKEND);
      return;
    }
    // Waiting for a retry slot: the Balancer will still call back; keep the object until then.
    req.abandoned = true;
    this.clientGoesOn(this.answer(req, ANSWER_CODES.timeout, lease?.backend ?? NO_BACKEND), 'failed');
  }

  /** The admission a timed-out request waited for: give the slot back, then reuse the object. */
  abandonedAdmission(req: SimRequest, result: Admission): void {
    result.lease?.end(ABANDONED);
    req.abandoned = false;
    this.recycle(req);
  }

  jobDone(req: SimRequest, result: JobResult): void {
    req.onVm = false;
    req.job = undefined;
    const lease = req.lease as Lease;
    const vm = req.vm as VmPort;
    const opts = this.opts;
    if (result.ok) {
      // As live: the load arrives with the response headers, the lease ends when the response does.
      opts.balancers[req.dispatcher].reportLoad(lease, vm.load());
      lease.end(ANSWERED);
      opts.events.attemptEnded(req.arrivedAt, lease.backend, false, lease.backendIndex);
      if (lease.repin) opts.workload.pin(req.session, lease.backend);
      this.finish(req, 'answered', ANSWERED_CODE, lease.backend);
      return;
    }
    lease.end(CONNECT_ERROR);
    opts.events.attemptEnded(req.arrivedAt, lease.backend, true, lease.backendIndex);
    if (lease.retry(req.callback)) return;
    this.finish(req, 'failed', ANSWER_CODES.connectFailed, lease.backend);
  }

  private finish(req: SimRequest, how: 'answered' | 'failed', code: string, backend: string): void {
    const connection = this.answer(req, code, backend);
    this.recycle(req);
    this.clientGoesOn(connection, how);
  }

  /** Count the request's answer; returns its closed-loop client (-1: open loop). */
  private answer(req: SimRequest, code: string, backend: string): number {
    const now = this.opts.clock.now();
    this.outstanding--;
    this.opts.events.answered(req.arrivedAt, backend, code, now - req.arrivedAt);
    req.generation++;
    // A closed-loop client answered past the warm-up's end: the warm-up drains from here (the open
    // loop's drain starts with its first arrival past the end, openLoopArrival).
    if (this.drainPending && req.connection >= 0 && now >= this.opts.warmupMs) {
      this.drainPending = false;
      this.windowStartMs = Infinity;
    }
    if (this.outstanding === 0 && this.windowStartMs === Infinity) {
      this.startDrainedWindow();
      // It sent every closed-loop client's next request, this one's too: no client goes on from here.
      return -1;
    }
    return req.connection;
  }

  /**
   * Nothing holds a finished request (its job was delivered or cancelled, its lease ended, it is in
   * no queue), so its object is reused: a closed-loop client's next request may take it at once.
   */
  private recycle(req: SimRequest): void {
    req.lease = req.vm = req.ticket = req.job = undefined;
    this.free.push(req);
  }

  private clientGoesOn(connection: number, how: 'answered' | 'failed'): void {
    // Draining the warm-up, a client waits for the window (startDrainedWindow sends its next request).
    if (connection < 0 || this.windowStartMs === Infinity) return;
    // A client whose request failed pauses before trying again: live, the 503 or 502 costs it a
    // network round trip; here a refusal is synchronous and a crashed VM fails at the same instant
    // (failSoon), so an immediate resend would loop without time advancing.
    if (how === 'failed') {
      // A window that starts meanwhile sends every client's next request itself.
      const windowStartMs = this.windowStartMs;
      this.opts.clock.schedule(FAILED_CLIENT_PAUSE_MS, () => {
        if (this.windowStartMs === windowStartMs && this.mayIssue()) this.issue(connection);
      });
    }
    else if (this.mayIssue()) this.issue(connection);
  }

  /** Run the clock until issuing has stopped and every issued request is answered or failed. */
  run(onTick?: () => void, tickEvery = 1 << 16): void {
    const clock = this.opts.clock;
    let n = 0;
    while (this.issuing || this.outstanding > 0) {
      // The next open-loop arrival is kept here rather than as a clock timer (which would be an
      // event object, a closure, and a heap push and pop per request): it runs when no clock event
      // is due before it; at the same instant the clock's events run first.
      if (!clock.step(this.nextArrivalAtMs)) {
        if (this.nextArrivalAtMs !== Infinity) this.openLoopArrival();
        else {
          // Nothing left to happen: closed-loop clients all refused at once, or no arrivals at all.
          this.stopIssuing();
          break;
        }
      }
      if (onTick !== undefined && ++n % tickEvery === 0) onTick();
    }
    if (this.outstanding > 0) throw new Error(`simulation: ${this.outstanding} requests never finished (a lost callback)`);
  }
}
