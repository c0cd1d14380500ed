import { z } from 'zod';
import { MAX_CHOICES } from '../core/limits.js';
import type { Rng } from '../core/rng.js';
import type { BackendId } from '../core/types.js';
import { createLoadMetric, loadMetricOptions } from './load/index.js';
import { MetricPolicy, type LoadMetric } from './load/load-metric.js';
import { eligible, type BackendView, type PickContext, type PolicyDefinition } from './policy.js';
import { leastCost } from './select.js';

/**
 * Power of d choices (P2C for d = 2): sample `choices` eligible backends uniformly at random and
 * send to the one with the lowest metric cost per unit of weight. Source: Mitzenmacher, "The Power
 * of Two Choices in Randomized Load Balancing" (IEEE TPDS 2001): d = 2 is an exponential
 * improvement over random, d = 3 only a constant factor more. Also Envoy LEAST_REQUEST, HAProxy
 * `balance random(2)`, tower's p2c, Finagle's default.
 *
 * Sampling: `distinct` (default, tower's `index::sample`) draws `choices` different backends, so the
 * most loaded of n backends never gets a request while d >= 2 (Envoy's "drain property" holds
 * exactly); `with-replacement` (Envoy's N_CHOICES loop) may draw one backend twice: with two
 * backends, the loaded one still gets 1/4 of picks. With `distinct` and choices >= n every eligible
 * backend is compared, which is least-loaded.
 *
 * Tie-break: uniformly at random among the tied samples. Unlike least-loaded, no global minimum is
 * sought, so a stale or shared view does not make every dispatcher herd onto the same backend.
 * Cost: O(d) per pick when the d sampled backends are eligible (Floyd's sampling over all of them),
 * else O(n) to sample again among the eligible ones.
 */
export class PowerOfChoices extends MetricPolicy {
  constructor(
    readonly name: string,
    private readonly choices: number,
    private readonly sampling: Sampling,
    metric: LoadMetric,
    private readonly rng: Rng,
  ) {
    super(metric);
  }

  // Scratch arrays of exactly `choices` slots, reused by every pick (a pick reads them before it
  // returns) and written by index: no allocation, and no `length = 0` (a slow runtime call) per pick.
  private readonly indices: number[] = [];
  private readonly drawn: BackendView[] = [];

  pickView(backends: readonly BackendView[], ctx: PickContext): BackendView | undefined {
    const sample = this.sampleFromAll(backends, ctx.avoid) ?? this.sample(eligible(backends, ctx.avoid));
    return leastCost(sample, this.metric, ctx.now, this.rng);
  }

  /**
   * O(d) fast path: draw from all backends and keep the draw when every sampled one is eligible;
   * otherwise undefined, and the pick samples again among the eligible ones (O(n) filter). Either
   * way the sample is uniform over the eligible d-sets (conditioned on being eligible, a draw from
   * all is a uniform draw from the eligible), and when all are eligible the draws are exactly those
   * of sampling from the eligible list, which is then the same list.
   */
  private sampleFromAll(backends: readonly BackendView[], avoid: ReadonlySet<BackendId> | undefined): readonly BackendView[] | undefined {
    if (backends.length <= this.choices) return undefined;
    const indices = this.drawIndices(backends.length);
    const sample = this.drawn;
    for (let k = 0; k < this.choices; k++) {
      const b = backends[indices[k]];
      if (!b.healthy || (avoid !== undefined && avoid.has(b.id))) return undefined;
      sample[k] = b;
    }
    return sample;
  }

  private sample(candidates: readonly BackendView[]): readonly BackendView[] {
    const n = candidates.length;
    if (n === 0 || (this.sampling === 'distinct' && n <= this.choices)) return candidates;
    const indices = this.drawIndices(n);
    const sample = this.drawn;
    for (let k = 0; k < this.choices; k++) sample[k] = candidates[indices[k]];
    return sample;
  }

  /** `choices` indices below n: independent draws, or distinct ones (needs n > choices). */
  private drawIndices(n: number): readonly number[] {
    const picked = this.indices;
    const d = this.choices;
    if (this.sampling === 'with-replacement') {
      for (let k = 0; k < d; k++) picked[k] = this.rng.int(n);
      return picked;
    }
    // Floyd's algorithm: d distinct indices in O(d) draws, without shuffling all n.
    for (let k = 0; k < d; k++) {
      const j = n - d + k;
      const t = this.rng.int(j + 1);
      let seen = false;
      for (let m = 0; m < k; m++) if (picked[m] === t) seen = true;
      picked[k] = seen ? j : t;
    }
    return picked;
  }
}

export type Sampling = 'distinct' | 'with-replacement';

export const choicesOption = z.number().int().min(2).max(MAX_CHOICES).default(2).describe('how many backends to sample per pick (d)');

const options = z.strictObject({
  choices: choicesOption,
  sampling: z
    .enum(['distinct', 'with-replacement'])
    .default('distinct')
    .describe('draw distinct backends (tower) or allow repeats (Envoy)'),
  ...loadMetricOptions,
});

export const powerOfTwo: PolicyDefinition<typeof options> = {
  name: 'power-of-two',
  summary: 'best of `choices` random backends by a load metric (in-flight, reported or peak-ewma)',
  options,
  create: (o, deps) =>
    new PowerOfChoices('power-of-two', o.choices, o.sampling, createLoadMetric(o), deps.rng.stream('power-of-two')),
};
