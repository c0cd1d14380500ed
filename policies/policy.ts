import type { z } from 'zod';
import type { Rng } from '../core/rng.js';
import type { BackendId, Millis } from '../core/types.js';

/**
 * The Policy seam (docs/policies.md). A policy only chooses; the Balancer owns in-flight accounting
 * and backend state, and tells the policy what happened through the optional hooks (after HAProxy's
 * lb_ops: take_conn / drop_conn / set_server_status). Policies never read a clock or set a timer:
 * time reaches them as `now`, so they run unchanged in virtual time.
 */

/** A backend's state as the Balancer tracks it. Only `healthy` backends are eligible, except in panic mode. */
export type BackendState = 'healthy' | 'ejected' | 'draining' | 'down';

/** A read-only view of one backend, maintained by the Balancer. */
export interface BackendView {
  readonly id: BackendId;
  readonly weight: number;
  /**
   * Eligible for new requests: state === 'healthy', or, in panic mode (too few backends healthy,
   * Envoy's healthy panic threshold), also 'down' or 'ejected'.
   */
  readonly healthy: boolean;
  readonly state: BackendState;
  /** Requests this Balancer has dispatched to it and not yet completed. */
  readonly inFlight: number;
  /** The load the VM last reported (X-VM-Load / GET /load), and when it was read; undefined if never. */
  readonly reportedLoad?: number;
  readonly reportedAt?: Millis;
  /** The host the VM runs on, where known. */
  readonly host?: string;
}

export interface PickContext {
  readonly now: Millis;
  /** Stickiness key: the session id from the cookie, a header, or the workload generator's session. */
  readonly sessionKey?: string;
  /**
   * The backend this session was pinned to, as its (verified) cookie says; the client keeps the
   * pin, so it survives dispatcher restarts and is shared by several dispatchers.
   */
  readonly pinned?: BackendId;
  /** The client's address (or generated client id), for source-hash policies. */
  readonly clientKey?: string;
  /** A request key for hashing policies (path by default). */
  readonly requestKey?: string;
  /** Backends to avoid if any alternative exists (retries; HAProxy's srvtoavoid). */
  readonly avoid?: ReadonlySet<BackendId>;
  /**
   * How many of the `backends` passed with this context are `healthy`, when the caller knows it
   * without a scan (the Balancer counts them as their states change); undefined when unknown. A
   * policy may use it for a fast path when every backend is eligible; the pick must not differ.
   */
  readonly eligibleCount?: number;
}

export interface Outcome {
  readonly ok: boolean;
  readonly latencyMs: Millis;
}

export interface Policy {
  readonly name: string;
  /** Pure choice among `backends` (all of them, any state). Must not mutate them; undefined = none eligible. */
  pick(backends: readonly BackendView[], ctx: PickContext): BackendId | undefined;
  /**
   * Optional, for speed: the same choice as `pick`, returned as the chosen element of `backends`
   * itself instead of its id (`pick` must equal `pickView(...)?.id`, draws included). When a policy
   * has it the Balancer calls it instead of `pick` and reaches the backend through the view,
   * without a lookup by id: on a fleet of thousands of backends that lookup is a cache miss per
   * request. An object that is not one of `backends` is refused, as an unknown id from `pick` is.
   */
  pickView?(backends: readonly BackendView[], ctx: PickContext): BackendView | undefined;
  /** Called by the Balancer once a request is assigned to `id`. */
  onDispatch?(id: BackendId, now: Millis): void;
  /** Called by the Balancer exactly once per dispatched request. */
  onComplete?(id: BackendId, outcome: Outcome, now: Millis): void;
  /** Called when backends are added, removed, or change state or weight. */
  onMembershipChange?(backends: readonly BackendView[]): void;
  /**
   * True for policies that pin sessions: the dispatcher then (re)writes the session cookie whenever
   * the pick differs from `ctx.pinned`, and the Balancer counts sticky hits and misses.
   */
  readonly sticky?: boolean;
  /**
   * Policies that key on sessions (sticky ones, consistent hashing of sessions): how the dispatcher
   * identifies a session on the wire (cookie name, or header, or client address).
   */
  readonly session?: SessionKeying;
  /** The backends the policy keeps per-backend state for (tests check it forgets removed ones). */
  trackedIds?(): BackendId[];
}

/** The session cookie's name unless a policy's options say otherwise. */
export const DEFAULT_SESSION_COOKIE = 'dl_session';

/** How a policy's sessions are identified on the wire; read by the dispatcher. */
export interface SessionKeying {
  readonly cookieName: string;
  readonly key: 'cookie' | 'header' | 'client';
  /** The header carrying the session id when `key` is 'header'. */
  readonly headerName?: string;
}

export interface PolicyDeps {
  /** Seeded; never Math.random. */
  readonly rng: Rng;
}

/** A registry entry: options validated by zod, then the factory. */
export interface PolicyDefinition<S extends z.ZodType = z.ZodType> {
  readonly name: string;
  /** One line for `dispatchlab policies`. */
  readonly summary: string;
  readonly options: S;
  create(options: z.output<S>, deps: PolicyDeps): Policy;
}

const isHealthy = (b: BackendView): boolean => b.healthy;

/**
 * Eligible backends: healthy, and not in `avoid` unless every healthy one is. Returns `backends`
 * itself when all are healthy and nothing is avoided, the common case on every pick: no copy.
 */
export function eligible(backends: readonly BackendView[], avoid?: ReadonlySet<BackendId>): readonly BackendView[] {
  const avoiding = avoid !== undefined && avoid.size > 0;
  if (!avoiding && backends.every(isHealthy)) return backends;
  const healthy = backends.filter(isHealthy);
  if (!avoiding) return healthy;
  const preferred = healthy.filter((b) => !avoid.has(b.id));
  return preferred.length > 0 ? preferred : healthy;
}

/**
 * Whether every one of `backends` is eligible for this pick, known without a scan: the Balancer's
 * eligibleCount covers them all and nothing is avoided. When it holds, eligible() would return
 * `backends` itself; the policies' fast paths (round-robin, random) take it, and eligibleFor().
 */
export function allEligible(backends: readonly BackendView[], ctx: PickContext): boolean {
  return backends.length > 0 && ctx.eligibleCount === backends.length && (ctx.avoid === undefined || ctx.avoid.size === 0);
}

/** eligible() for this pick: `backends` itself without a scan when allEligible() says so. */
export function eligibleFor(backends: readonly BackendView[], ctx: PickContext): readonly BackendView[] {
  return allEligible(backends, ctx) ? backends : eligible(backends, ctx.avoid);
}
