import type { Cancel } from '../../core/clock.js';
import type { BackendId, Millis } from '../../core/types.js';
import type { BackendState, BackendView, PickContext } from '../../policies/policy.js';

/**
 * The Balancer seam (DESIGN.md): transport-neutral. The live dispatcher and the simulator make the
 * same calls in the same order: begin -> (queued) -> lease -> end [-> retry].
 */

/** Methods that are safe to send twice (RFC 9110 §9.2.1); only these are retried, and only without a body. */
const RETRYABLE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Whether a request may be retried on another backend: the one rule live and simulated runs share. */
export function isRetryable(method: string, hasBody: boolean): boolean {
  return RETRYABLE_METHODS.has(method.toUpperCase()) && !hasBody;
}

/** What the transport knows of a request before it is assigned. */
export type RequestInfo = Omit<PickContext, 'now' | 'avoid'> & {
  /** May this request be sent again to another backend when an attempt fails (`retryOn`, retries.ts)? */
  readonly retryable: boolean;
  /** A generated request's index in its run (live: its `?n=`), for the attempt trace. */
  readonly index?: number;
};

/** How an attempt ended, as the transport saw it. */
export type AttemptOutcome =
  | { readonly kind: 'response'; readonly status: number }
  /** Could not connect, or the connection died before any response byte: safe to retry a retryable request. */
  | { readonly kind: 'connect-error' }
  /** The connection died after the request body or part of the response was sent. */
  | { readonly kind: 'reset' }
  /**
   * Given up on. `perTry`: the attempt's own timeout (`timeouts.upstreamMs`, Envoy's
   * per_try_timeout) ran out before any response byte, so a retryable request may go again on
   * another backend; without it, the request's total timeout did, and nothing is retried.
   */
  | { readonly kind: 'timeout'; readonly perTry?: boolean }
  /** The client went away: not the backend's fault, never counted against it. */
  | { readonly kind: 'client-abort' };

export interface Lease {
  readonly backend: BackendId;
  /**
   * The backend's position among those the Balancer was given, in order, and added since (never
   * reused or shifted by a removal): what request events carry beside the id
   * (core/request-events.ts), so a sink finds its entry without a lookup by id.
   */
  readonly backendIndex: number;
  /** The backend's BackendInit.data, if it was given one. */
  readonly backendData?: unknown;
  /** 1 for the first attempt, 2 for the first retry, ... */
  readonly attempt: number;
  /** When the request reached the Balancer (first attempt), and when this attempt was dispatched. */
  readonly arrivedAt: Millis;
  readonly dispatchedAt: Millis;
  /** Time spent in the dispatcher queue before this attempt. */
  readonly queuedMs: Millis;
  /** For sticky policies: true when the cookie must be (re)written to name `backend`. */
  readonly repin: boolean;
  /** Idempotent: the first call counts, later ones are ignored, so in-flight never leaks or goes negative. */
  end(outcome: AttemptOutcome): void;
  /**
   * After `end` with a retryable failure (one of the scenario's `retryOn` conditions): ask for
   * another attempt on a different backend, within `retries` and the retry budget. The callback
   * gets the new lease or a refusal, like `begin`. Returns false (and never calls back) when no
   * retry is allowed, or no healthy backend is left that this request has not tried: the caller
   * then answers with the failure itself.
   */
  retry(onResult: (result: Admission) => void): boolean;
  /**
   * Before `end`: would this attempt, ending with `outcome`, be retried? For a transport that must
   * choose between relaying an answer and dropping it before any of it reaches the client (a
   * gateway error's head). True: the retry is granted now (counted, budget spent) and `retry`
   * after `end` sends it whatever the end changed (with no free backend it waits in the queue).
   * False: nothing changed; the answer is relayed and the lease ended as usual.
   */
  reserveRetry(outcome: AttemptOutcome): boolean;
}

/** Why a request got no backend. 'policy-error': the policy's pick threw or returned a backend it may not choose. */
export type RefusalReason = 'no-backend' | 'queue-full' | 'queue-timeout' | 'policy-error';

export type Admission =
  | { readonly lease: Lease; readonly refused?: undefined }
  | { readonly lease?: undefined; readonly refused: RefusalReason; readonly retryAfterMs: Millis; readonly error?: string };

/**
 * The HTTP status a refusal is answered with, live and in the simulator: 500 when the policy
 * failed (a bug to fix, not a capacity problem to wait out), else 503 with Retry-After.
 */
export function refusalStatus(reason: RefusalReason): 500 | 503 {
  return reason === 'policy-error' ? 500 : 503;
}

/** A request waiting in the queue, or already answered (cancel is then a no-op). */
export interface Ticket {
  /** The client went away: leave the queue without being counted as a timeout. */
  readonly cancel: Cancel;
}

/** A backend as admin APIs and reports see it. */
export interface BackendStatus extends BackendView {
  readonly requests: number;
  readonly errors: number;
  readonly ejections: number;
  readonly consecutiveFailures: number;
  readonly ejectedUntil?: Millis;
}

/** What the Balancer tells metrics collectors (Prometheus live, counters in the simulator). */
export interface BalancerObserver {
  onDispatch?(backend: BackendId, queuedMs: Millis, attempt: number): void;
  onComplete?(backend: BackendId, outcome: AttemptOutcome, latencyMs: Millis): void;
  onRefused?(reason: RefusalReason): void;
  /** The policy threw (or picked a backend it may not): the request is refused (pick) or goes on (hooks). */
  onPolicyError?(message: string): void;
  onRetry?(backend: BackendId): void;
  onEjection?(backend: BackendId): void;
  onStateChange?(backend: BackendId, from: BackendState, to: BackendState): void;
  onSticky?(hit: boolean): void;
  /**
   * Every attempt as it ends: the trace a live run and its simulation share (the same picks for
   * the same requests on a deterministic scenario: test/integration/parity.test.ts).
   */
  onAttemptEnded?(info: RequestInfo, backend: BackendId, attempt: number, outcome: AttemptOutcome): void;
}
