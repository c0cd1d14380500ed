import type { Cancel, Clock } from '../../core/clock.js';
import type { DispatcherSettings } from '../../core/scenario.js';
import type { BackendId, Millis } from '../../core/types.js';
import type { BalancerLease } from './lease.js';
import type { Membership } from './membership.js';
import { WaitQueue } from './queue.js';
import type { Admission, BalancerObserver, RefusalReason, RequestInfo, Ticket } from './types.js';

/**
 * Queue and admission, after HAProxy's `maxconn` + backend queue: a request that cannot be
 * dispatched at once waits in one central FIFO queue (bounded; each waiter has its own timeout)
 * and is dispatched from the head whenever a slot frees or a backend comes back; or it is refused
 * with a Retry-After. Without a per-backend limit there is no queue.
 *
 * With `queue.controlledDelay` (Facebook's controlled delay, Maurer, "Fail at scale", ACM Queue
 * 2015, after Nichols & Jacobson's CoDel): a queue that has not been empty for `intervalMs` is a
 * standing queue, the sign of overload rather than a burst, and a request joining it may wait
 * only `targetMs` before it is refused. Under sustained overload the excess is then answered 503
 * in milliseconds instead of after `timeoutMs`, while a burst into an empty queue still gets
 * `timeoutMs`. A retry, put at the head, keeps `timeoutMs`: it is next in line.
 *
 * Cost: queued requests pay one clock timer each: a single timer for the head would need
 * deadlines in queue order, which retries re-queued at the head would break.
 */

export type OnResult = (result: Admission) => void;

/**
 * Lease a free backend for this attempt, or undefined when none is free, or a PolicyFailure when
 * the policy failed (the Balancer's pick).
 */
export type TryDispatch = (
  info: RequestInfo,
  arrivedAt: Millis,
  enqueuedAt: Millis,
  attempt: number,
  tried: ReadonlySet<BackendId> | undefined,
) => BalancerLease | PolicyFailure | undefined;

function noop(): void {}

/** Answered at once: there is nothing to cancel. Shared, so immediate dispatch allocates no ticket. */
export const ANSWERED: Ticket = Object.freeze({ cancel: noop });

/** A request waiting in the queue. */
export class QueuedRequest {
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

/**
 * A pick that threw or chose a backend it may not: the request is refused with this admission
 * (answered 500, see refusalStatus), never the process brought down.
 */
export class PolicyFailure {
  constructor(readonly admission: Admission) {}
}

/** Refusals are shared frozen objects: refusing allocates nothing (but for the rare policy error). */
function refusal(reason: RefusalReason, retryAfterMs: Millis): Admission {
  return Object.freeze({ refused: reason, retryAfterMs });
}

/** Retry-After is sent in whole seconds; never advise less than one. */
function ceilToSecondsMs(ms: Millis): Millis {
  return Math.max(1, Math.ceil(ms / 1000)) * 1000;
}

export class AdmissionQueue {
  readonly refused: Record<RefusalReason, number> = { 'no-backend': 0, 'queue-full': 0, 'queue-timeout': 0, 'policy-error': 0 };
  private readonly queue = new WaitQueue<QueuedRequest>();
  private readonly refusals: Record<RefusalReason, Admission>;
  /** Re-entrancy guard: callbacks run from the pump may end leases, which pump again. */
  private pumping = false;
  /** Since when the queue has held someone without a break (read only while it is not empty). */
  private busySinceMs = 0;

  constructor(
    private readonly clock: Clock,
    private readonly settings: DispatcherSettings,
    private readonly members: Membership,
    private readonly observer: BalancerObserver | undefined,
    private readonly tryDispatch: TryDispatch,
  ) {
    const queueRetryMs = ceilToSecondsMs(settings.queue.timeoutMs);
    // With no backend up, the soonest one can return is after `rise` good health checks.
    const health = settings.healthCheck;
    const backendRetryMs = ceilToSecondsMs(health.intervalMs * health.rise);
    this.refusals = {
      'no-backend': refusal('no-backend', backendRetryMs),
      'queue-full': refusal('queue-full', queueRetryMs),
      'queue-timeout': refusal('queue-timeout', queueRetryMs),
      'policy-error': refusal('policy-error', 0),
    };
  }

  /** Requests waiting now. */
  get length(): number {
    return this.queue.length;
  }

  /** Queue a request that could not be dispatched now (a retry at the head), or refuse it. */
  wait(entry: QueuedRequest, atHead: boolean): Ticket {
    if (!this.members.hasCandidate(entry.tried)) return this.refuse('no-backend', entry.onResult);
    if (this.settings.maxConnPerBackend === 0) return this.refuse('no-backend', entry.onResult);
    if (this.queue.length >= this.settings.queue.maxLength) return this.refuse('queue-full', entry.onResult);
    const now = this.clock.now();
    // Every stretch of a non-empty queue starts with a request joining an empty one.
    if (this.queue.length === 0) this.busySinceMs = now;
    if (atHead) this.queue.pushFront(entry);
    else this.queue.pushBack(entry);
    const codel = this.settings.queue.controlledDelay;
    const standing = codel !== undefined && !atHead && now - this.busySinceMs >= codel.intervalMs;
    entry.cancelTimeout = this.clock.schedule(standing ? codel.targetMs : this.settings.queue.timeoutMs, () => {
      if (this.queue.remove(entry)) this.refuse('queue-timeout', entry.onResult);
    });
    return {
      cancel: () => {
        if (this.queue.remove(entry)) entry.cancelTimeout();
      },
    };
  }

  /** Dispatch from the head of the queue while it can go somewhere. FIFO: a stuck head waits. */
  pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let head = this.queue.peek(); head !== undefined; head = this.queue.peek()) {
        if (!this.members.hasCandidate(head.tried)) {
          this.queue.shift();
          head.cancelTimeout();
          this.refuse('no-backend', head.onResult);
          continue;
        }
        const lease = this.tryDispatch(head.info, head.arrivedAt, head.enqueuedAt, head.attempt, head.tried);
        if (lease === undefined) break;
        this.queue.shift();
        head.cancelTimeout();
        if (lease instanceof PolicyFailure) this.refuse('policy-error', head.onResult, lease.admission);
        else head.onResult(lease);
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Answer a refusal now; `admission` carries a policy error's message. */
  refuse(reason: RefusalReason, onResult: OnResult, admission = this.refusals[reason]): Ticket {
    this.refused[reason]++;
    this.observer?.onRefused?.(reason);
    onResult(admission);
    return ANSWERED;
  }
}
