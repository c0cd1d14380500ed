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
  private readonly current = new Map<BackendId, number>();

  pick(backends: readonly BackendView[], ctx: PickContext): BackendId | undefined {
    let best: BackendView | undefined;
    let bestCurrent = -Infinity;
    let totalWeight = 0;
    for (const b of eligible(backends, ctx.avoid)) {
      const c = (this.current.get(b.id) ?? 0) + b.weight;
      this.current.set(b.id, c);
      totalWeight += b.weight;
      if (c > bestCurrent) {
        best = b;
        bestCurrent = c;
      }
    }
    if (!best) return undefined;
    this.current.set(best.id, bestCurrent - totalWeight);
    return best.id;
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
