import type { LoadMetric } from './load-metric.js';

/**
 * In-flight: the number of requests the Balancer has dispatched to a backend and not yet seen
 * complete, plus one for the request being placed. The +1 is HAProxy leastconn's `(conns+1)/weight`
 * and Finagle's `pending + 1`: it makes weights count even when every backend is idle (an idle
 * weight-2 backend costs 0.5, an idle weight-1 backend 1). Stateless: the count is the Balancer's.
 * Cost O(1).
 */
export function createInFlightMetric(): LoadMetric {
  return { name: 'in-flight', cost: (b) => b.inFlight + 1 };
}
