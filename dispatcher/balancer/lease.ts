import type { Millis } from '../../core/types.js';
import type { Policy } from '../../policies/policy.js';
import type { BackendRecord } from './backend.js';
import type { Admission, AttemptOutcome, Lease, RequestInfo } from './types.js';

/**
 * One attempt of one request on one backend. The lease only guards idempotence; the Balancer
 * does the accounting through `LeaseHost`, one object per Balancer, so a lease carries no
 * closures. It remembers the policy that dispatched it, so after a runtime policy switch every
 * policy still sees one onComplete per onDispatch.
 */
export interface LeaseHost {
  end(lease: BalancerLease, outcome: AttemptOutcome): void;
  reserveRetry(lease: BalancerLease, outcome: AttemptOutcome): boolean;
  retry(lease: BalancerLease, onResult: (result: Admission) => void): boolean;
}

export class BalancerLease implements Lease {
  /** How the attempt ended: set once, by `end`. */
  outcome: AttemptOutcome | undefined = undefined;
  /** A retry was granted for this attempt (at most one is). */
  retried = false;
  /** A retry granted before the attempt ended (reserveRetry), not yet sent: the backends it avoids. */
  reserved: ReadonlySet<string> | undefined = undefined;

  constructor(
    private readonly host: LeaseHost,
    readonly record: BackendRecord,
    readonly policy: Policy,
    readonly info: RequestInfo,
    /** Backends earlier attempts of this request were sent to. */
    readonly tried: ReadonlySet<string> | undefined,
    readonly attempt: number,
    readonly arrivedAt: Millis,
    readonly dispatchedAt: Millis,
    readonly queuedMs: Millis,
    readonly repin: boolean,
  ) {}

  get backend(): string {
    return this.record.id;
  }

  get backendIndex(): number {
    return this.record.index;
  }

  get backendData(): unknown {
    return this.record.data;
  }

  /** A lease is its own Admission (`{ lease }`), so a dispatch allocates no wrapper for it. */
  get lease(): this {
    return this;
  }

  readonly refused = undefined;

  end(outcome: AttemptOutcome): void {
    if (this.outcome !== undefined) return;
    this.outcome = outcome;
    this.host.end(this, outcome);
  }

  reserveRetry(outcome: AttemptOutcome): boolean {
    return this.host.reserveRetry(this, outcome);
  }

  retry(onResult: (result: Admission) => void): boolean {
    return this.host.retry(this, onResult);
  }
}
