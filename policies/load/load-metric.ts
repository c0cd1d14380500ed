import type { BackendId, Millis } from '../../core/types.js';
import type { BackendView, Outcome, PickContext, Policy } from '../policy.js';

/**
 * "How to measure load", kept apart from "how to choose" (tower's `Load` trait): a strategy such
 * as least-loaded or power-of-two asks a metric for each candidate's cost and takes the lowest.
 * Metrics that keep per-backend state learn from the same hooks the Balancer gives a policy.
 */
export interface LoadMetric {
  readonly name: string;
  /** Lower is less loaded. May refresh a cached copy (the `reported` metric), never the view. */
  cost(b: BackendView, now: Millis): number;
  onDispatch?(id: BackendId, now: Millis): void;
  onComplete?(id: BackendId, outcome: Outcome, now: Millis): void;
  /** Forget state for backends no longer in `backends`. */
  onMembershipChange?(backends: readonly BackendView[]): void;
  trackedIds?(): BackendId[];
}

/** Drop the entries of `state` whose backend is not in `backends` (membership-change hygiene). */
export function forgetRemoved<V>(state: Map<BackendId, V>, backends: readonly Pick<BackendView, 'id'>[]): void {
  const present = new Set(backends.map((b) => b.id));
  for (const id of state.keys()) if (!present.has(id)) state.delete(id);
}

/**
 * Base of the strategies that choose by a metric (least-loaded, power-of-two, peak-ewma): the
 * Balancer's hooks go to the metric, since the strategy itself keeps no per-backend state. A hook
 * the metric lacks is absent here too, not a no-op: the Balancer calls onDispatch and onComplete
 * on every request, and builds an outcome object for onComplete, only when the policy has them
 * (the in-flight metric, the default, needs neither: its count is the Balancer's).
 */
export abstract class MetricPolicy implements Policy {
  abstract readonly name: string;
  readonly onDispatch?: (id: BackendId, now: Millis) => void;
  readonly onComplete?: (id: BackendId, outcome: Outcome, now: Millis) => void;

  constructor(readonly metric: LoadMetric) {
    this.onDispatch = metric.onDispatch?.bind(metric);
    this.onComplete = metric.onComplete?.bind(metric);
  }

  abstract pickView(backends: readonly BackendView[], ctx: PickContext): BackendView | undefined;

  pick(backends: readonly BackendView[], ctx: PickContext): BackendId | undefined {
    return this.pickView(backends, ctx)?.id;
  }

  onMembershipChange(backends: readonly BackendView[]): void {
    this.metric.onMembershipChange?.(backends);
  }

  trackedIds(): BackendId[] {
    return this.metric.trackedIds?.() ?? [];
  }
}
