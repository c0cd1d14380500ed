import type { DispatcherSettings } from '../../core/scenario.js';
import type { BackendId, Millis } from '../../core/types.js';
import type { BalancerLease } from './lease.js';
import type { Membership } from './membership.js';
import { RetryBudget } from './retry-budget.js';
import type { AttemptOutcome } from './types.js';

/**
 * Retries on another backend, after HAProxy's `retries` + `option redispatch`, Envoy's retry
 * policy and Finagle's retry budget: a failed attempt may go again when the request is safe to
 * resend, the failure happened before any response byte, the request has attempts left, some
 * healthy backend has not been tried, and the budget allows it. Where the next attempt goes is the
 * Balancer's (it keeps its place in the queue); whether there is one is decided here.
 */

/**
 * Failures after which a retryable request may be sent again, Envoy's `retry_on: connect-failure,
 * reset, per-try-timeout`: the backend could not be reached, dropped the connection, or kept
 * silent past the attempt's own timeout (a hung host: without this, every request caught on it
 * is lost although other backends are alive). The request's total timeout is never retried. A
 * 5xx answer is not retried: its head is already on its way to the client when it is seen.
 */
export function isRetryableFailure(outcome: AttemptOutcome): boolean {
  switch (outcome.kind) {
    case 'connect-error':
    case 'reset':
      return true;
    case 'timeout':
      return outcome.perTry === true;
    default:
      return false;
  }
}

export class RetryGate {
  /** Retries granted. */
  retries = 0;
  private readonly maxRetries: number;
  private readonly budget: RetryBudget;

  constructor(
    settings: DispatcherSettings,
    private readonly members: Membership,
  ) {
    this.maxRetries = settings.retries;
    this.budget = new RetryBudget(settings.retryBudget);
  }

  /** Count a first attempt into the budget. */
  deposit(now: Millis): void {
    this.budget.deposit(now);
  }

  /**
   * The backends the next attempt must avoid, or undefined when no retry is allowed. Spends
   * budget only when it grants one: with nowhere else to go the caller answers with the failure
   * that happened (not a refusal), and the budget is kept.
   */
  grant(lease: BalancerLease, now: Millis): ReadonlySet<BackendId> | undefined {
    if (!lease.ended || lease.retried || !lease.retryableFailure) return undefined;
    if (lease.attempt > this.maxRetries) return undefined;
    const tried = new Set(lease.tried);
    tried.add(lease.backend);
    if (!this.members.hasCandidate(tried)) return undefined;
    if (!this.budget.tryWithdraw(now)) return undefined;
    lease.retried = true;
    this.retries++;
    return tried;
  }
}
