import type { Cancel, Clock } from '../../core/clock.js';
import type { DispatcherSettings } from '../../core/scenario.js';
import type { BackendId, Millis } from '../../core/types.js';
import type { BackendView, PickContext, Policy } from '../../policies/policy.js';
import { BackendRecord } from './backend.js';
import { BalancerLease, type LeaseHost } from './lease.js';
import { ejectionMs, isBackendFailure, maxEjected } from './outlier.js';
import { WaitQueue } from './queue.js';
import { RetryBudget } from './retry-budget.js';
import type {
  Admission,
  AttemptOutcome,
  BackendStatus,
  BalancerObserver,
  RefusalReason,
  RequestInfo,
  Ticket,
} from './types.js';

/**
 * The dispatcher's master node (DESIGN.md, "Balancer"), transport-neutral: the live proxy and the
 * simulator drive the same object.
 *
 * - Admission, after HAProxy's `maxconn` + backend queue: a request goes straight to the policy's
 *   pick when the queue is empty and some backend has a free slot; otherwise it waits in one
 *   central FIFO queue (bounded; each waiter has its own timeout) and is dispatched from the head
 *   whenever a slot frees or a backend comes back. Without a limit there is no queue.
 * - The policy only chooses, among views where full and non-healthy backends read
 *   `healthy: false`; the Balancer owns in-flight counts and tells the policy about dispatch,
 *   completion and membership changes (HAProxy's lb_ops).
 * - States healthy / ejected / draining / down (balancer-backend.ts); passive outlier ejection
 *   (balancer-outlier.ts); retries on another backend within `retries` and a retry budget
 *   (balancer-retry-budget.ts).
 *
 * Cost: an immediate dispatch is O(1) plus the policy's pick, allocating the lease only (a lease
 * is its own Admission, and the ticket is shared). Queued requests also pay one clock timer each:
 * a single timer for the head would need deadlines in queue order, which retries re-queued at the
 * head would break.
 */

export interface BackendInit {
  id: BackendId;
  weight?: number;
  host?: string;
  /**
   * Anything the caller wants back on every lease of this backend (Lease.backendData): the
   * simulator keeps the backend's VM there, so a dispatch finds it without a lookup by id.
   */
  data?: unknown;
}

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

type OnResult = (result: Admission) => void;

/** A request waiting in the queue. */
class QueuedRequest {
  waiting = false;
  cancelTimeout: Cancel = noop;

  constructor(
    readonly info: RequestInfo,
    readonly onResult: OnResult,
    readonly arrivedAt: Millis,
    readonly enqueuedAt: Millis,
    readonly attempt: number,
    readonly tried: ReadonlySet<BackendId> | undefined,
  ) {}
}

function noop(): void {}

/** Answered at once: there is nothing to cancel. Shared, so immediate dispatch allocates no ticket. */
const ANSWERED: Ticket = Object.freeze({ cancel: noop });

function validWeight(id: BackendId, weight: number): number {
  if (!Number.isFinite(weight) || weight < 0) throw new Error(`backend "${id}": weight must be a finite number >= 0, got ${weight}`);
  return weight;
}

/** Refusals are shared frozen objects: refusing allocates nothing. */
function refusal(reason: RefusalReason, retryAfterMs: Millis): Admission {
  return Object.freeze({ refused: reason, retryAfterMs });
}

/** Retry-After is sent in whole seconds; never advise less than one. */
function ceilToSecondsMs(ms: Millis): Millis {
  return Math.max(1, Math.ceil(ms / 1000)) * 1000;
}

export class Balancer {
  private readonly clock: Clock;
  private readonly settings: DispatcherSettings;
  private readonly observer: BalancerObserver | undefined;
  private currentPolicy: Policy;

  private readonly records = new Map<BackendId, BackendRecord>();
  /** The views policies get in onMembershipChange and `views()`, in insertion order. */
  private readonly viewList: BackendView[] = [];
  /** The views `pick` sees (full backends unhealthy); the same array when there is no limit. */
  private readonly pickList: BackendView[];
  /** Backends in state healthy, and those a pick may choose now (healthy with a free slot). */
  private healthyCount = 0;
  private pickableCount = 0;
  private ejectedCount = 0;

  private readonly queue = new WaitQueue<QueuedRequest>();
  private readonly budget: RetryBudget;
  private readonly refusals: Record<RefusalReason, Admission>;
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
    retry: (lease, onResult) => this.retryLease(lease, onResult),
  };
  /** Re-entrancy guard: callbacks run from the queue pump may end leases, which pump again. */
  private pumping = false;

  private readonly counters: BalancerStats = {
    requests: 0,
    dispatched: 0,
    completed: 0,
    refused: { 'no-backend': 0, 'queue-full': 0, 'queue-timeout': 0 },
    retries: 0,
    ejections: 0,
  };
  private readonly sticky = { hits: 0, misses: 0 };

  constructor(opts: BalancerOptions) {
    this.clock = opts.clock;
    this.settings = opts.settings;
    this.observer = opts.observer;
    this.currentPolicy = opts.policy;
    this.pickList = opts.settings.maxConnPerBackend > 0 ? [] : this.viewList;
    this.budget = new RetryBudget(opts.settings.retryBudget);
    const queueRetryMs = ceilToSecondsMs(opts.settings.queue.timeoutMs);
    // With no backend up, the soonest one can return is after `rise` good health checks.
    const health = opts.settings.healthCheck;
    const backendRetryMs = ceilToSecondsMs(health.intervalMs * health.rise);
    this.refusals = {
      'no-backend': refusal('no-backend', backendRetryMs),
      'queue-full': refusal('queue-full', queueRetryMs),
      'queue-timeout': refusal('queue-timeout', queueRetryMs),
    };
    for (const b of opts.backends) this.insert(b);
    this.currentPolicy.onMembershipChange?.(this.viewList);
  }

  // ---- requests -------------------------------------------------------------------------------

  /** Assign a request: calls onResult synchronously (lease or refusal) or later (after queueing). */
  begin(info: RequestInfo, onResult: OnResult): Ticket {
    const now = this.clock.now();
    this.counters.requests++;
    this.budget.deposit(now);
    if (this.queue.length === 0) {
      const lease = this.tryDispatch(info, now, now, 1, undefined, now);
      if (lease !== undefined) {
        onResult(lease);
        return ANSWERED;
      }
    }
    return this.wait(new QueuedRequest(info, onResult, now, now, 1, undefined), false);
  }

  get policy(): Policy {
    return this.currentPolicy;
  }

  /** Runtime switch: the new policy learns the current views; leases already out end on the old one. */
  setPolicy(policy: Policy): void {
    this.currentPolicy = policy;
    policy.onMembershipChange?.(this.viewList);
    this.pump();
  }

  queueLength(): number {
    return this.queue.length;
  }

  stats(): BalancerStats {
    return { ...this.counters, refused: { ...this.counters.refused } };
  }

  stickyStats(): { hits: number; misses: number } {
    return { ...this.sticky };
  }

  // ---- backends -------------------------------------------------------------------------------

  /** Snapshot for admin APIs and reports. */
  backends(): readonly BackendStatus[] {
    return [...this.records.values()].map((r) => ({
      ...r.view,
      requests: r.requests,
      errors: r.errors,
      ejections: r.ejections,
      consecutiveFailures: r.consecutiveFailures,
      ejectedUntil: r.ejectedUntil,
    }));
  }

  /** The live views (updated in place; do not mutate). */
  views(): readonly BackendView[] {
    return this.viewList;
  }

  addBackend(b: BackendInit): void {
    this.insert(b);
    this.membershipChanged();
  }

  /** No new requests; leases already out still end cleanly (and reach the policy's onComplete). */
  removeBackend(id: BackendId): void {
    const rec = this.get(id);
    if (rec.cancelEjection !== undefined) this.endEjection(rec);
    this.records.delete(id);
    this.viewList.splice(this.viewList.indexOf(rec.view), 1);
    if (this.pickList !== this.viewList) this.pickList.splice(this.pickList.indexOf(rec.pickView), 1);
    if (rec.state === 'healthy') this.healthyCount--;
    rec.removed = true;
    rec.state = rec.deriveState();
    this.pickableCount += rec.sync();
    this.membershipChanged();
  }

  /** No new requests; in-flight ones finish. Wins over health until `undrain`. */
  drain(id: BackendId): void {
    this.setDraining(this.get(id), true);
  }

  undrain(id: BackendId): void {
    this.setDraining(this.get(id), false);
  }

  setWeight(id: BackendId, weight: number): void {
    const rec = this.get(id);
    rec.weight = validWeight(id, weight);
    rec.sync();
    this.membershipChanged();
  }

  /** From active health checks: down <-> healthy. Ignores ids removed while a probe was out. */
  setHealth(id: BackendId, up: boolean): void {
    const rec = this.records.get(id);
    if (rec === undefined) return;
    rec.up = up;
    this.refresh(rec);
  }

  /** A fresh load figure from the VM (X-VM-Load, GET /load). Late reports of removed backends are ignored. */
  reportLoad(id: BackendId, load: number): void {
    this.records.get(id)?.reportLoad(load, this.clock.now());
  }

  // ---- internals ------------------------------------------------------------------------------

  private get(id: BackendId): BackendRecord {
    const rec = this.records.get(id);
    if (rec === undefined) throw new Error(`unknown backend "${id}" (known: ${[...this.records.keys()].join(', ')})`);
    return rec;
  }

  private setDraining(rec: BackendRecord, draining: boolean): void {
    rec.draining = draining;
    this.refresh(rec);
  }

  private insert(b: BackendInit): void {
    if (typeof b.id !== 'string' || b.id === '') throw new Error(`backend id must be a non-empty string, got ${JSON.stringify(b.id)}`);
    if (this.records.has(b.id)) throw new Error(`backend "${b.id}" already exists`);
    const rec = new BackendRecord(b.id, validWeight(b.id, b.weight ?? 1), b.host, this.settings.maxConnPerBackend, b.data);
    this.records.set(b.id, rec);
    this.viewList.push(rec.view);
    if (this.pickList !== this.viewList) this.pickList.push(rec.pickView);
    this.healthyCount++;
    this.pickableCount++;
  }

  /** Re-derive a backend's state after one of its flags changed; announce it if it did change. */
  private refresh(rec: BackendRecord): void {
    const from = rec.state;
    const to = rec.deriveState();
    if (from === to) return;
    rec.state = to;
    if (from === 'healthy') this.healthyCount--;
    if (to === 'healthy') this.healthyCount++;
    this.pickableCount += rec.sync();
    this.observer?.onStateChange?.(rec.id, from, to);
    this.membershipChanged();
  }

  private membershipChanged(): void {
    this.currentPolicy.onMembershipChange?.(this.viewList);
    this.pump();
  }

  /** Is there any healthy backend this request has not tried yet (full or not)? */
  private hasCandidate(tried: ReadonlySet<BackendId> | undefined): boolean {
    if (tried === undefined) return this.healthyCount > 0;
    let excluded = 0;
    for (const id of tried) if (this.records.get(id)?.state === 'healthy') excluded++;
    return this.healthyCount - excluded > 0;
  }

  /**
   * Ask the policy for a backend with a free slot and lease it, or return undefined (none free).
   * Backends already tried are masked out of the pick views for the duration of the call, so a
   * retry can only land on a different backend. `now` is the caller's reading of the clock, not a
   * new one: a request dispatched on arrival waited exactly 0, where a second reading of the system
   * clock would record the microseconds between the two as queue wait.
   */
  private tryDispatch(
    info: RequestInfo,
    arrivedAt: Millis,
    enqueuedAt: Millis,
    attempt: number,
    tried: ReadonlySet<BackendId> | undefined,
    now: Millis,
  ): BalancerLease | undefined {
    if (this.pickableCount === 0) return undefined;
    let masked: BackendRecord[] | undefined;
    if (tried !== undefined) {
      for (const id of tried) {
        const rec = this.records.get(id);
        if (rec === undefined || !rec.pickView.healthy) continue;
        rec.pickView.healthy = false;
        (masked ??= []).push(rec);
      }
      if (masked !== undefined && masked.length === this.pickableCount) {
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
    ctx.eligibleCount = this.pickableCount - (masked?.length ?? 0);
    const id = policy.pick(this.pickList, ctx);
    const rec = id === undefined ? undefined : this.records.get(id);
    const pickable = rec !== undefined && rec.pickView.healthy;
    if (masked !== undefined) for (const m of masked) m.pickView.healthy = true;
    if (id === undefined) return undefined;
    if (!pickable) {
      throw new Error(`policy "${policy.name}" picked "${id}", which is not eligible (unknown, not healthy, full or already tried)`);
    }
    return this.dispatch(rec, policy, info, arrivedAt, enqueuedAt, attempt, tried, now);
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
    rec.inFlight++;
    rec.requests++;
    this.pickableCount += rec.sync();
    this.counters.dispatched++;
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
    policy.onDispatch?.(rec.id, now);
    if (attempt > 1) this.observer?.onRetry?.(rec.id);
    this.observer?.onDispatch?.(rec.id, queuedMs, attempt);
    return lease;
  }

  /** Queue a request that could not be dispatched now, or refuse it. */
  private wait(entry: QueuedRequest, atHead: boolean): Ticket {
    if (!this.hasCandidate(entry.tried)) return this.refuse('no-backend', entry.onResult);
    if (this.settings.maxConnPerBackend === 0) return this.refuse('no-backend', entry.onResult);
    if (this.queue.length >= this.settings.queue.maxLength) return this.refuse('queue-full', entry.onResult);
    if (atHead) this.queue.pushFront(entry);
    else this.queue.pushBack(entry);
    entry.cancelTimeout = this.clock.schedule(this.settings.queue.timeoutMs, () => {
      if (this.queue.remove(entry)) this.refuse('queue-timeout', entry.onResult);
    });
    return {
      cancel: () => {
        if (this.queue.remove(entry)) entry.cancelTimeout();
      },
    };
  }

  private refuse(reason: RefusalReason, onResult: OnResult): Ticket {
    this.counters.refused[reason]++;
    this.observer?.onRefused?.(reason);
    onResult(this.refusals[reason]);
    return ANSWERED;
  }

  /** Dispatch from the head of the queue while it can go somewhere. FIFO: a stuck head waits. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let head = this.queue.peek(); head !== undefined; head = this.queue.peek()) {
        if (!this.hasCandidate(head.tried)) {
          this.queue.shift();
          head.cancelTimeout();
          this.refuse('no-backend', head.onResult);
          continue;
        }
        const lease = this.tryDispatch(head.info, head.arrivedAt, head.enqueuedAt, head.attempt, head.tried, this.clock.now());
        if (lease === undefined) break;
        this.queue.shift();
        head.cancelTimeout();
        head.onResult(lease);
      }
    } finally {
      this.pumping = false;
    }
  }

  private endLease(lease: BalancerLease, outcome: AttemptOutcome): void {
    const rec = lease.record;
    const now = this.clock.now();
    const latencyMs = now - lease.dispatchedAt;
    rec.inFlight--;
    this.pickableCount += rec.sync();
    this.counters.completed++;
    const failed = isBackendFailure(outcome);
    lease.retryableFailure = lease.info.retryable && (outcome.kind === 'connect-error' || outcome.kind === 'reset');
    // A client abort is not the backend's fault: the policy hears of it as a success.
    lease.policy.onComplete?.(rec.id, { ok: !failed, latencyMs }, now);
    this.observer?.onComplete?.(rec.id, outcome, latencyMs);
    if (outcome.kind !== 'client-abort' && !rec.removed) this.trackOutlier(rec, failed);
    this.pump();
  }

  private trackOutlier(rec: BackendRecord, failed: boolean): void {
    if (!failed) {
      rec.consecutiveFailures = 0;
      return;
    }
    rec.errors++;
    rec.consecutiveFailures++;
    const outlier = this.settings.outlier;
    // Never the last healthy backend either: with the others down or draining, ejecting it would
    // turn a partial outage into a total one.
    if (
      rec.state === 'healthy' &&
      rec.consecutiveFailures >= outlier.consecutiveErrors &&
      this.healthyCount > 1 &&
      this.ejectedCount < maxEjected(this.records.size, outlier.maxEjectedFraction)
    ) {
      this.eject(rec, outlier.baseEjectionMs);
    }
  }

  private eject(rec: BackendRecord, baseEjectionMs: Millis): void {
    rec.ejections++;
    this.counters.ejections++;
    this.ejectedCount++;
    rec.consecutiveFailures = 0;
    const durationMs = ejectionMs(baseEjectionMs, rec.ejections);
    rec.ejectedUntil = this.clock.now() + durationMs;
    rec.cancelEjection = this.clock.schedule(durationMs, () => {
      this.endEjection(rec);
      this.refresh(rec);
    });
    this.observer?.onEjection?.(rec.id);
    this.refresh(rec);
  }

  private endEjection(rec: BackendRecord): void {
    rec.cancelEjection?.();
    rec.cancelEjection = undefined;
    rec.ejectedUntil = undefined;
    this.ejectedCount--;
  }

  private retryLease(lease: BalancerLease, onResult: OnResult): boolean {
    if (!lease.ended || lease.retried || !lease.retryableFailure) return false;
    if (lease.attempt > this.settings.retries) return false;
    const tried = new Set(lease.tried);
    tried.add(lease.backend);
    // Nowhere else to go: no retry, so the caller answers with the failure that happened (not a
    // refusal), and the budget is not spent.
    if (!this.hasCandidate(tried)) return false;
    const now = this.clock.now();
    if (!this.budget.tryWithdraw(now)) return false;
    lease.retried = true;
    this.counters.retries++;
    // A retry keeps its place: it was admitted already, so it goes straight to a free backend or,
    // if none is free, to the head of the queue (HAProxy's redispatch does not re-queue at the tail).
    const next = this.tryDispatch(lease.info, lease.arrivedAt, now, lease.attempt + 1, tried, now);
    if (next !== undefined) onResult(next);
    else this.wait(new QueuedRequest(lease.info, onResult, lease.arrivedAt, now, lease.attempt + 1, tried), true);
    return true;
  }
}
