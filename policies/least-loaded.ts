import { z } from 'zod';
import type { Rng } from '../core/rng.js';
import { createLoadMetric, loadMetricOptions } from './load/index.js';
import { MetricPolicy, type LoadMetric } from './load/load-metric.js';
import { eligibleFor, type BackendView, type PickContext, type PolicyDefinition } from './policy.js';
import { leastCost } from './select.js';

/**
 * Least loaded (join the shortest queue): the eligible backend with the lowest metric cost per unit
 * of weight, cost / weight. With the default in-flight metric the cost is in-flight + 1, which is
 * HAProxy leastconn's (conns + 1) / weight; the metric may instead be the load the VM reports
 * (stale by nature, refreshed every `refreshMs`) or Finagle's peak EWMA.
 * Sources: JSQ (Winston 1977; Mitzenmacher's supermarket model as the d = n limit), HAProxy
 * `balance leastconn`, nginx `least_conn`, Finagle `Balancers.heap`.
 *
 * Tie-break: uniformly at random among the tied backends (reservoir sampling with the seeded rng),
 * without bias to any position; nginx and HAProxy break ties by order, which herds at low load.
 * Cost: O(n) per pick; the metric's state is O(n).
 */
export class LeastLoaded extends MetricPolicy {
  readonly name = 'least-loaded';

  constructor(
    metric: LoadMetric,
    private readonly rng: Rng,
  ) {
    super(metric);
  }

  pickView(backends: readonly BackendView[], ctx: PickContext): BackendView | undefined {
    return leastCost(eligibleFor(backends, ctx), this.metric, ctx.now, this.rng);
  }
}

const options = z.strictObject(loadMetricOptions);

export const leastLoaded: PolicyDefinition<typeof options> = {
  name: 'least-loaded',
  summary: 'join the least loaded backend (cost per weight); metric in-flight, reported or peak-ewma; random tie-break',
  options,
  create: (options, deps) => new LeastLoaded(createLoadMetric(options), deps.rng.stream('least-loaded')),
};
