import { z } from 'zod';
import type { Rng } from '../core/rng.js';
import type { BackendId } from '../core/types.js';
import { ListMemo } from './list-memo.js';
import { allEligible, eligible, type BackendView, type PickContext, type Policy, type PolicyDefinition } from './policy.js';

/**
 * Random: each eligible backend with probability weight / total weight (Envoy's RANDOM, HAProxy's
 * `balance random(1)`). The baseline of the balls-into-bins results: max load ~ ln n / ln ln n.
 * One uniform draw per pick, so there are no ties to break. Cost O(n) per pick (a walk down the
 * weights); O(log n) while every backend is eligible and every weight is a whole number: a binary
 * search in the weights' running totals, kept for the list until its membership changes. It picks
 * the walk's own backend: the draw is below 2^53, so subtracting whole weights from it is exact
 * while the rest stays at or above 0, and the walk stops at the first running total above the draw.
 */
export class WeightedRandom implements Policy {
  readonly name = 'random';

  /** The running totals of the list's weights; null when some weight is not a whole number. */
  private readonly totals = new ListMemo(runningTotals);

  constructor(private readonly rng: Rng) {}

  pick(backends: readonly BackendView[], ctx: PickContext): BackendId | undefined {
    return this.pickView(backends, ctx)?.id;
  }

  pickView(backends: readonly BackendView[], ctx: PickContext): BackendView | undefined {
    if (allEligible(backends, ctx)) {
      const totals = this.totals.get(backends);
      if (totals !== null) return backends[firstAbove(totals, this.rng.next() * totals[totals.length - 1])] ?? backends.at(-1);
    }
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

  onMembershipChange(): void {
    this.totals.forget();
  }
}

/** The running totals of whole weights; null when some weight is not a whole number (the walk's subtractions are then inexact). */
function runningTotals(backends: readonly BackendView[]): number[] | null {
  if (!backends.every((b) => Number.isInteger(b.weight) && b.weight >= 0)) return null;
  let sum = 0;
  return backends.map((b) => (sum += b.weight));
}

/** The first index whose running total is above `point` (totals.length when none is). */
function firstAbove(totals: readonly number[], point: number): number {
  let lo = 0;
  let hi = totals.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (totals[mid] > point) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export const random: PolicyDefinition = {
  name: 'random',
  summary: 'uniformly random, weighted by backend weight',
  options: z.strictObject({}),
  create: (_options, deps) => new WeightedRandom(deps.rng.stream('random')),
};
