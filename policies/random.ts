import { z } from 'zod';
import type { Rng } from '../core/rng.js';
import type { BackendId } from '../core/types.js';
import { eligible, type BackendView, type PickContext, type Policy, type PolicyDefinition } from './policy.js';

/**
 * Random: each eligible backend with probability weight / total weight (Envoy's RANDOM, HAProxy's
 * `balance random(1)`). The baseline of the balls-into-bins results: max load ~ ln n / ln ln n.
 * One uniform draw per pick, so there are no ties to break. Cost O(n) per pick, no state.
 */
export class WeightedRandom implements Policy {
  readonly name = 'random';

  constructor(private readonly rng: Rng) {}

  pick(backends: readonly BackendView[], ctx: PickContext): BackendId | undefined {
    return this.pickView(backends, ctx)?.id;
  }

  pickView(backends: readonly BackendView[], ctx: PickContext): BackendView | undefined {
    const candidates = eligible(backends, ctx.avoid);
    const totalWeight = candidates.reduce((sum, b) => sum + b.weight, 0);
    let point = this.rng.next() * totalWeight;
    for (const b of candidates) {
      point -= b.weight;
      if (point < 0) return b;
    }
    // Only reached through floating-point rounding at the very top of the range, or all-zero weights.
    return candidates.at(-1);
  }
}

export const random: PolicyDefinition = {
  name: 'random',
  summary: 'uniformly random, weighted by backend weight',
  options: z.strictObject({}),
  create: (_options, deps) => new WeightedRandom(deps.rng.stream('random')),
};
