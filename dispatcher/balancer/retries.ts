import type { DispatcherSettings, RetryCondition } from '../../core/scenario.js';
import type { BackendId, Millis } from '../../core/types.js';
import type { BalancerLease } from './lease.js';
import type { Membership } from './membership.js';
import { RetryBudget } from './retry-budget.js';
import type { AttemptOutcome } from './types.js';

/**
 * Retries on another backend, after HAProxy's `retries` + `option redispatch`, Envoy's retry
 * policy and Finagle's retry budget: a failed attempt may go again when the request is safe to
 * resend, its failure is one of the scenario's `retryOn` conditions, the request has attempts
 * left, some healthy backend has not been tried, and the budget allows it. Where the next attempt
 * goes is the Balancer's (it keeps its place in the queue); whether there is one is decided here,
 * for the live dispatcher and the simulator alike.
 */

/**
 * The `retryOn` condition an attempt's outcome meets, named as Envoy's `retry_on` (router filter,
 * x-envoy-retry-on): the backend could not be reached (connect-failure) or dropped the connection
 * (reset); it kept silent past the attempt's own timeout (per-try-timeout: a hung host, where
 * without a retry every request caught on it is lost although other backends are alive); or it
 * answered 502, 503 or 504 (gateway-error). The request's total timeout, any other answer and a
 * client abort meet none: they are never retried.
 */
export function retryCondition(outcome: AttemptOutcome): RetryCondition | undefined {
  switch (outcome.kind) {
    case 'connect-error':
      return 'connect-failure';
    case 'reset':
      return 'reset';
    case 'timeout':
      return outcome.perTry === true ? 'per-try-timeout' : undefined;
    case 'response':
      return outcome.status >= 502 && outcome.status <= 504 ? 'gateway-error' : undefined;
    case 'client-abort':
      return undefined;
  }
}

export class RetryGate {
  /** Retries granted. */
  retries = 0;
  private readonly maxRetries: number;
  private readonly retryOn: ReadonlySet<RetryCondition>;
  private readonly budget: RetryBudget;

  constructor(
    settings: DispatcherSettings,
    private readonly members: Membership,
  ) {
    this.maxRetries = settings.retries;
    this.retryOn = new Set(settings.retryOn);
    this.budget = new RetryBudget(settings.retryBudget);
  }

  /** Count a first attempt into the budget. */
  deposit(now: Millis): void {
    this.budget.deposit(now);
  }

  /**
   * Whether the attempt of `lease`, ending (or ended) with `outcome`, goes again: the backends the
   * next attempt must avoid, or undefined when no retry is allowed. Spends budget only when it
   * grants one: with nowhere else to go the caller answers with the failure that happened (not a
   * refusal), and the budget is kept.
   */
  grant(lease: BalancerLease, outcome: AttemptOutcome, now: Millis): ReadonlySet<BackendId> | undefined {
    if (lease.retried || !lease.info.retryable) return undefined;
    const condition = retryCondition(outcome);
    if (condition === undefined || !this.retryOn.has(condition)) return undefined;
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
