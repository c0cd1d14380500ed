import type { Rng } from '../core/rng.js';
import type { Millis } from '../core/types.js';
import type { LoadMetric } from './load/load-metric.js';
import type { BackendView } from './policy.js';

/**
 * Selection helpers shared by the load-aware policies (least-loaded, power-of-two, peak-ewma).
 */

/**
 * The candidate with the lowest metric cost per unit of weight (perWeight); ties are broken
 * uniformly at random by reservoir sampling over the tied set (the k-th tie replaces the current
 * choice with probability 1/k), so no position is favoured and the rng is only drawn from when
 * there is a tie. O(n), one pass. The metric is a parameter rather than a score callback: a
 * closure made per pick would be an allocation and an indirect call on every request.
 */
export function leastCost<T extends BackendView>(candidates: readonly T[], metric: LoadMetric, nowMs: Millis, rng: Rng): T | undefined {
  let best: T | undefined;
  let bestScore = Infinity;
  let ties = 0;
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i];
    const s = perWeight(metric.cost(c, nowMs), c);
    if (best === undefined || s < bestScore) {
      best = c;
      bestScore = s;
      ties = 1;
    } else if (s === bestScore) {
      ties += 1;
      if (rng.int(ties) === 0) best = c;
    }
  }
  return best;
}

/**
 * A load cost per unit of weight, so a backend of weight 2 is "as loaded" as one of weight 1 when it
 * carries twice the cost. Weights are positive in scenarios; a zero weight makes a backend the last
 * resort instead of a division by zero.
 */
function perWeight(cost: number, b: BackendView): number {
  return b.weight > 0 ? cost / b.weight : Infinity;
}
