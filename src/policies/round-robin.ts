import { z } from 'zod';
import type { BackendId } from '../core/types.js';
import { forgetRemoved } from './load/load-metric.js';
import { eligible, type BackendView, type PickContext, type Policy, type PolicyDefinition } from './policy.js';

/**
 * Round robin: nginx's smooth weighted round robin (ngx_http_upstream_round_robin.c,
 * ngx_http_upstream_get_peer; the algorithm of nginx commit 52327e0627f4, 2012). Each pick, every
 * eligible backend's `current` grows by its weight; the largest `current` wins and is lowered by the
 * total weight. Weights 5,1,1 give a a b a c a a: the heavy backend's turns are spread out instead of
 * sent in a burst; equal weights give classic round robin a b c a b c.
 *
 * Tie-break: the first in the Balancer's backend order. Backends out of the rotation (unhealthy,
 * avoided) neither gain nor lose `current`, as in nginx. On a membership change the survivors keep
 * their `current` (the rotation is not reset) and new backends start at 0.
 * Cost: O(n) per pick, O(n) state.
 */
export class SmoothWeightedRoundRobin implements Policy {
  readonly name = 'round-robin';
  /** Each backend's `current`, boxed so a pick does one map lookup per backend, not a lookup and a store. */
  private readonly current = new Map<BackendId, { value: number }>();

  pick(backends: readonly BackendView[], ctx: PickContext): BackendId | undefined {
    let best: { value: number } | undefined;
    let bestId: BackendId | undefined;
    let totalWeight = 0;
    for (const b of eligible(backends, ctx.avoid)) {
      let c = this.current.get(b.id);
      if (c === undefined) {
        c = { value: 0 };
        this.current.set(b.id, c);
      }
      c.value += b.weight;
      totalWeight += b.weight;
      if (best === undefined || c.value > best.value) {
        best = c;
        bestId = b.id;
      }
    }
    if (best === undefined) return undefined;
    best.value -= totalWeight;
    return bestId;
  }

  onMembershipChange(backends: readonly BackendView[]): void {
    forgetRemoved(this.current, backends);
  }

  trackedIds(): BackendId[] {
    return [...this.current.keys()];
  }
}

export const roundRobin: PolicyDefinition = {
  name: 'round-robin',
  summary: 'smooth weighted round robin (nginx); equal weights give classic round robin',
  options: z.strictObject({}),
  create: () => new SmoothWeightedRoundRobin(),
};
