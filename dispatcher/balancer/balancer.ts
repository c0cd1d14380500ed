import type { Clock } from '../../core/clock.js';
import type { DispatcherSettings } from '../../core/scenario.js';
import type { BackendId, Millis } from '../../core/types.js';
import type { BackendView, PickContext, Policy } from '../../policies/policy.js';
import { ANSWERED, AdmissionQueue, PolicyFailure, QueuedRequest, type OnResult } from './admission.js';
import { MutableView, type BackendRecord } from './backend.js';
import { BalancerLease, type LeaseHost } from './lease.js';
import { Membership, type BackendInit } from './membership.js';
import { isBackendFailure, OutlierDetector } from './outlier.js';
import { RetryGate } from './retries.js';
import type { AttemptOutcome, BackendStatus, BalancerObserver, Lease, RefusalReason, RequestInfo, Ticket } from './types.js';

export type { BackendInit } from './membership.js';

/**
 * The dispatcher's master node (DESIGN.md, "Balancer"), transport-neutral: the live proxy and the
 * simulator drive the same object. It owns the request path: a request goes straight to the
 * policy's pick when the queue is empty and some backend has a free slot, otherwise to the queue;
 * each attempt's end updates load, outlier state and the queue. The parts, where a reader looks
 * for them:
 *
 * - membership.ts: the backend records and views, counts, add/remove/drain/weight/health;
 *   states healthy / ejected / draining / down (backend.ts).
 * - admission.ts: the central FIFO queue and refusals (queue.ts is its ring buffer).
 * - retries.ts: whether a failed attempt goes again (retry-budget.ts is Finagle's budget).
 * - outlier.ts: passive outlier ejection.
 * - lease.ts: one attempt; `end` is idempotent.
 * - health-check.ts: active health checks, live and simulated; they drive the Balancer through setHealth.
 *
 * The policy only chooses, among views where full and non-healthy backends read
 * `healthy: false`; the Balancer owns in-flight counts and tells the policy about dispatch,
 * completion and membership changes (HAProxy's lb_ops).
 *
 * Cost: an immediate dispatch is O(1) plus the policy's pick, allocating the lease only (a lease
 * is its own Admission, and the ticket is shared).
 */

export interface BalancerOptions {
  clock: Clock;
  policy: Policy;
  settings: DispatcherSettings;
  backends: readonly BackendInit[];
  observer?: BalancerObserver;
}

export interface BalancerStats {
  requests: number;
  dispatched: number;
  completed: number;
  refused: Record<RefusalReason, number>;
  retries: number;
  ejections: number;
}

export class Balancer {
  private readonly clock: Clock;
  private readonly observer: BalancerObserver | undefined;
  private currentPolicy: Policy;

  private readonly members: Membership;
  private readonly admission: AdmissionQueue;
  private readonly retryGate: RetryGate;
  private readonly outliers: OutlierDetector;
  /** Reused for every pick: policies must not keep the context (it is rewritten per request). */
  private readonly ctx: { -readonly [K in keyof PickContext]: PickContext[K] } = {
    now: 0,
    sessionKey: undefined,
    pinned: undefined,
    clientKey: undefined,
    requestKey: undefined,
    avoid: undefined,
    eligibleCount: undefined,
  };
  private readonly leaseHost: LeaseHost = {
    end: (lease, outcome) => this.endLease(lease, outcome),
    reserveRetry: (lease, outcome) => this.reserveRetry(lease, outcome),
    retry: (lease, onResult) => this.retryLease(lease, onResult),
  };

  private requests = 0;
  private dispatched = 0;
  private completed = 0;
  private readonly sticky = { hits: 0, misses: 0 };

  constructor(opts: BalancerOptions) {
    this.clock = opts.clock;
    this.observer = opts.observer;
    this.currentPolicy = opts.policy;
    const settings = opts.settings;
    this.members = new Membership(settings.maxConnPerBackend, settings.panicThreshold, {
      stateChanged: (rec, from, to) => this.observer?.onStateChange?.(rec.id, from, to),
      membershipChanged: () => this.membershipChanged(),
    });
    this.admission = new AdmissionQueue(opts.clock, settings, this.members, opts.observer, (info, arrivedAt, enqueuedAt, attempt, tried) =>
      this.tryDispatch(info, arrivedAt, enqueuedAt, attempt, tried, this.clock.now()),
    );
    this.retryGate = new RetryGate(settings, this.members);
    this.outliers = new OutlierDetector(opts.clock, settings.outlier, this.members, (id) => this.observer?.onEjection?.(id));
    for (const b of opts.backends) this.members.insert(b);
    this.currentPolicy.onMembershipChange?.(this.members.viewList);
  }

  // ---- requests -------------------------------------------------------------------------------

  /** Assign a request: calls onResult synchronously (lease or refusal) or later (after queueing). */
  begin(info: RequestInfo, onResult: OnResult): Ticket {
    const now = this.clock.now();
    this.requests++;
    this.retryGate.deposit(now);
    if (this.admission.length === 0) {
      const lease = this.tryDispatch(info, now, now, 1, undefined, now);
      if (lease instanceof PolicyFailure) return this.admission.refuse('policy-error', onResult, lease.admission);
      if (lease !== undefined) {
        onResult(lease);
        return ANSWERED;
      }
    }
    return this.admission.wait(new QueuedRequest(info, onResult, now, now, 1, undefined), false);
  }

  get policy(): Policy {
    return this.currentPolicy;
  }

  /**
   * Runtime switch: the new policy learns the current views; leases already out end on the old one.
   * A policy that throws on learning them is refused (the error propagates) and the old one stays.
   */
  setPolicy(policy: Policy): void {
    policy.onMembershipChange?.(this.members.viewList);
    this.currentPolicy = policy;
    this.admission.pump();
  }

  queueLength(): number {
    return this.admission.length;
  }

  stats(): BalancerStats {
    return {
      requests: this.requests,
      dispatched: this.dispatched,
      completed: this.completed,
      refused: { ...this.admission.refused },
      retries: this.retryGate.retries,
      ejections: this.outliers.ejections,
    };
  }

  stickyStats(): { hits: number; misses: number } {
    return { ...this.sticky };
  }

  // ---- backends -------------------------------------------------------------------------------

  /** Snapshot for admin APIs and reports. */
  backends(): readonly BackendStatus[] {
    return this.members.statuses();
  }

  /** The live views (updated in place; do not mutate). */
  views(): readonly BackendView[] {
    return this.members.viewList;
  }

  /**
   * The BackendInit.data of a backend in the set (undefined for an unknown id): the live dispatcher
   * keeps each backend's origin there, so the Balancer's set is the only membership table.
   */
  backendData(id: BackendId): unknown {
    return this.members.records.get(id)?.data;
  }

  addBackend(b: BackendInit): void {
    this.members.add(b);
  }

  /** No new requests; leases already out still end cleanly (and reach the policy's onComplete). */
  removeBackend(id: BackendId): void {
    const rec = this.members.get(id);
    if (rec.cancelEjection !== undefined) this.outliers.end(rec);
    this.members.remove(rec);
  }

  /** No new requests; in-flight ones finish. Wins over health until `undrain`. */
  drain(id: BackendId): void {
    this.members.setDraining(this.members.get(id), true);
  }

  undrain(id: BackendId): void {
    this.members.setDraining(this.members.get(id), false);
  }

  setWeight(id: BackendId, weight: number): void {
    this.members.setWeight(id, weight);
  }

  /**
   * From active health checks: down <-> healthy. Coming up also ends an outlier ejection: the
   * backend has just passed `rise` checks in a row. Ignores ids removed while a probe was out.
   */
  setHealth(id: BackendId, up: boolean): void {
    const rec = this.members.records.get(id);
    if (rec === undefined) return;
    rec.up = up;
    if (up && rec.cancelEjection !== undefined) this.outliers.end(rec);
    this.members.refresh(rec);
  }

  /**
   * One active health check passed: an outlier ejection ends now instead of at its time, after
   * Envoy's `successful_active_health_check_uneject_host`. A recovered backend is back within one
   * check interval rather than 30 s, 60 s, ... later. The checker calls it on every passing probe.
   */
  healthCheckPassed(id: BackendId): void {
    const rec = this.members.records.get(id);
    if (rec?.cancelEjection === undefined) return;
    this.outliers.end(rec);
    this.members.refresh(rec);
  }

  /** Panic mode: too few backends are healthy, so down and ejected ones take traffic too. */
  get panic(): boolean {
    return this.members.panic;
  }

  /**
   * A fresh load figure from the VM, read off the response to one of this Balancer's leases
   * (X-VM-Load). The lease names its backend's record, so no lookup by id is made. Reports on
   * leases of removed backends, and on leases this Balancer did not grant, are ignored.
   */
  reportLoad(lease: Lease, load: number): void {
    const rec = lease instanceof BalancerLease ? lease.record : undefined;
    if (rec === undefined || rec.owner !== this.members || rec.removed) return;
    rec.reportLoad(load, this.clock.now());
  }

  // ---- the request path -----------------------------------------------------------------------

  /** Policies relearn the views; a backend that came back or freed up takes from the queue. */
  private membershipChanged(): void {
    try {
      this.currentPolicy.onMembershipChange?.(this.members.viewList);
    } catch (err) {
      // Often a health check's or an ejection's timer: reported, never thrown into it.
      this.observer?.onPolicyError?.(messageOf(err));
    }
    this.admission.pump();
  }

  /**
   * Ask the policy for a backend with a free slot and lease it, or return undefined (none free),
   * or a PolicyFailure when the pick threw or chose a backend it may not (the request is then
   * refused, never the process brought down). Backends already tried are masked out of the pick
   * views for the duration of the call, so a retry can only land on a different backend.
   * `now` is the caller's reading of the clock, not a new one: a request dispatched on arrival
   * waited exactly 0, where a second reading of the system clock would record the microseconds
   * between the two as queue wait.
   */
  private tryDispatch(
    info: RequestInfo,
    arrivedAt: Millis,
    enqueuedAt: Millis,
    attempt: number,
    tried: ReadonlySet<BackendId> | undefined,
    now: Millis,
  ): BalancerLease | PolicyFailure | undefined {
    const members = this.members;
    if (members.pickableCount === 0) return undefined;
    let masked: BackendRecord[] | undefined;
    if (tried !== undefined) {
      for (const id of tried) {
        const rec = members.records.get(id);
        if (rec === undefined || !rec.pickView.healthy) continue;
        rec.pickView.healthy = false;
        (masked ??= []).push(rec);
      }
      if (masked !== undefined && masked.length === members.pickableCount) {
        for (const rec of masked) rec.pickView.healthy = true;
        return undefined;
      }
    }
    const policy = this.currentPolicy;
    const ctx = this.ctx;
    ctx.now = now;
    ctx.sessionKey = info.sessionKey;
    ctx.pinned = info.pinned;
    ctx.clientKey = info.clientKey;
    ctx.requestKey = info.requestKey;
    ctx.avoid = tried;
    ctx.eligibleCount = members.pickableCount - (masked?.length ?? 0);
    // The policy's choice: a view (pickView) leads to its record directly, an id (pick) through
    // the map; `chosen` is what the policy returned, for the refusal's message.
    let chosen: BackendView | BackendId | undefined;
    let rec: BackendRecord | undefined;
    let failure: PolicyFailure | undefined;
    try {
      if (policy.pickView !== undefined) {
        chosen = policy.pickView(members.pickList, ctx);
        rec = this.recordOf(chosen);
      } else {
        chosen = policy.pick(members.pickList, ctx);
        rec = chosen === undefined ? undefined : members.records.get(chosen);
      }
    } catch (err) {
      failure = this.policyFailed(messageOf(err));
    }
    // Read before the mask is lifted: a backend this request already tried is not pickable.
    const pickable = rec !== undefined && rec.pickView.healthy ? rec : undefined;
    if (masked !== undefined) for (const m of masked) m.pickView.healthy = true;
    if (failure !== undefined) return failure;
    if (chosen === undefined) return undefined;
    if (pickable === undefined) {
      const what = typeof chosen === 'object' && chosen !== null ? `a view of "${String(chosen.id)}"` : `"${String(chosen)}"`;
      return this.policyFailed(`policy "${policy.name}" picked ${what}, which is not eligible (unknown, not this Balancer's, not healthy, full or already tried)`);
    }
    return this.dispatch(pickable, policy, info, arrivedAt, enqueuedAt, attempt, tried, now);
  }

  /** The record of a view this Balancer handed out; undefined for anything else (another Balancer's view, a copy, no view). */
  private recordOf(view: unknown): BackendRecord | undefined {
    const rec = MutableView.recordOf(view);
    return rec?.owner === this.members ? rec : undefined;
  }

  private dispatch(
    rec: BackendRecord,
    policy: Policy,
    info: RequestInfo,
    arrivedAt: Millis,
    enqueuedAt: Millis,
    attempt: number,
    tried: ReadonlySet<BackendId> | undefined,
    now: Millis,
  ): BalancerLease {
    this.members.take(rec);
    this.dispatched++;
    let repin = false;
    if (policy.sticky) {
      const pinned = info.pinned;
      repin = pinned !== rec.id;
      if (pinned !== undefined) {
        if (repin) this.sticky.misses++;
        else this.sticky.hits++;
        this.observer?.onSticky?.(!repin);
      }
    }
    const queuedMs = now - enqueuedAt;
    const lease = new BalancerLease(this.leaseHost, rec, policy, info, tried, attempt, arrivedAt, now, queuedMs, repin);
    try {
      policy.onDispatch?.(rec.id, now);
    } catch (err) {
      // The request is leased already: it goes on, and the failure is reported.
      this.observer?.onPolicyError?.(messageOf(err));
    }
    if (attempt > 1) this.observer?.onRetry?.(rec.id);
    this.observer?.onDispatch?.(rec.id, queuedMs, attempt);
    return lease;
  }

  private endLease(lease: BalancerLease, outcome: AttemptOutcome): void {
    const rec = lease.record;
    const now = this.clock.now();
    const latencyMs = now - lease.dispatchedAt;
    this.members.release(rec);
    this.completed++;
    const failed = isBackendFailure(outcome);
    // A client abort is not the backend's fault: the policy hears of it as a success.
    try {
      lease.policy.onComplete?.(rec.id, { ok: !failed, latencyMs }, now);
    } catch (err) {
      this.observer?.onPolicyError?.(messageOf(err));
    }
    this.observer?.onComplete?.(rec.id, outcome, latencyMs);
    this.observer?.onAttemptEnded?.(lease.info, rec.id, lease.attempt, outcome);
    if (outcome.kind !== 'client-abort' && !rec.removed) this.outliers.record(rec, failed);
    this.admission.pump();
  }

  private policyFailed(message: string): PolicyFailure {
    this.observer?.onPolicyError?.(message);
    return new PolicyFailure(Object.freeze({ refused: 'policy-error' as const, retryAfterMs: 0, error: message }));
  }

  /** The same decision as `retryLease`, taken before the attempt ends; the retry then goes ahead whatever `end` changes. */
  private reserveRetry(lease: BalancerLease, outcome: AttemptOutcome): boolean {
    if (lease.outcome !== undefined) return false;
    lease.reserved = this.retryGate.grant(lease, outcome, this.clock.now());
    return lease.reserved !== undefined;
  }

  private retryLease(lease: BalancerLease, onResult: OnResult): boolean {
    if (lease.outcome === undefined) return false;
    const now = this.clock.now();
    const tried = lease.reserved ?? this.retryGate.grant(lease, lease.outcome, now);
    lease.reserved = undefined;
    if (tried === undefined) return false;
    // A retry keeps its place: it was admitted already, so it goes straight to a free backend or,
    // if none is free, to the head of the queue (HAProxy's redispatch does not re-queue at the tail).
    const next = this.tryDispatch(lease.info, lease.arrivedAt, now, lease.attempt + 1, tried, now);
    if (next instanceof PolicyFailure) this.admission.refuse('policy-error', onResult, next.admission);
    else if (next !== undefined) onResult(next);
    else this.admission.wait(new QueuedRequest(lease.info, onResult, lease.arrivedAt, now, lease.attempt + 1, tried), true);
    return true;
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
