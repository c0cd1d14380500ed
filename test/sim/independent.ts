import { MinHeap } from '../../core/heap.js';
import type { Rng } from '../../core/rng.js';

/**
 * Independent checks of the closed forms in sim/theory.ts: each computes the same mean by another
 * method (a Markov chain solved numerically, or a textbook queue simulated directly), sharing no
 * code with theory.ts or the hypervisor model.
 */

/**
 * Mean number in system of a single queue with Poisson-phase arrivals and exponential servers,
 * solved numerically: states (customers 0..maxCustomers, arrival phase 0..phases-1); arrivals move
 * through `phases` exponential phases of rate `phaseRate` each, a customer arrives when the last one
 * completes (phases = 1: Poisson); `servers` exponential servers of rate `mu` each serve
 * min(customers, servers) at once. Gauss-Seidel on the global balance equations until the
 * distribution stops moving; the truncation must hold nearly all the probability mass.
 */
export function meanInSystem(opts: { phaseRate: number; phases: number; mu: number; servers: number; maxCustomers: number }): number {
  const { phaseRate, phases, mu, servers, maxCustomers } = opts;
  const index = (n: number, p: number): number => n * phases + p;
  const size = (maxCustomers + 1) * phases;
  const pi = new Float64Array(size).fill(1 / size);
  for (let sweep = 0; sweep < 200_000; sweep++) {
    let change = 0;
    for (let n = 0; n <= maxCustomers; n++) {
      // Phases advance in every state; at the truncation a completed arrival is lost (back to phase 0).
      const out = phaseRate + Math.min(n, servers) * mu;
      for (let p = 0; p < phases; p++) {
        // Inflow into (n, p): a phase step (n, p-1); an arrival from (n-1, last), or a lost one
        // from (n, last) at the truncation; a departure from (n+1, p).
        let inflow = 0;
        if (p > 0) inflow += pi[index(n, p - 1)] * phaseRate;
        if (p === 0 && n > 0) inflow += pi[index(n - 1, phases - 1)] * phaseRate;
        if (p === 0 && n === maxCustomers) inflow += pi[index(n, phases - 1)] * phaseRate;
        if (n < maxCustomers) inflow += pi[index(n + 1, p)] * Math.min(n + 1, servers) * mu;
        const next = inflow / out;
        change = Math.max(change, Math.abs(next - pi[index(n, p)]));
        pi[index(n, p)] = next;
      }
    }
    let total = 0;
    for (let i = 0; i < size; i++) total += pi[i];
    for (let i = 0; i < size; i++) pi[i] /= total;
    if (change < 1e-13) break;
  }
  let mean = 0;
  for (let n = 0; n <= maxCustomers; n++) for (let p = 0; p < phases; p++) mean += n * pi[index(n, p)];
  return mean;
}

/**
 * Mean response time of a single processor-sharing server fed by Poisson arrivals at `lambdaPerMs`,
 * with job sizes from `size`, simulated directly over `jobs` arrivals: while k jobs are present each
 * receives 1/k of the server, so a job finishes when the attained service per job reaches its
 * arrival's attained service plus its size (the heap key).
 */
export function psMeanResponseMs(lambdaPerMs: number, size: () => number, jobs: number, rng: Rng): number {
  const heap = new MinHeap<number>();
  let nowMs = 0;
  let attained = 0;
  let nextArrivalMs = rng.exponential(1 / lambdaPerMs);
  let arrived = 0;
  let totalResponseMs = 0;
  let seq = 0;
  while (arrived < jobs || heap.size > 0) {
    const completionMs = heap.size > 0 ? nowMs + (heap.topKey - attained) * heap.size : Infinity;
    if (arrived < jobs && nextArrivalMs < completionMs) {
      if (heap.size > 0) attained += (nextArrivalMs - nowMs) / heap.size;
      nowMs = nextArrivalMs;
      heap.push(nowMs, attained + size(), seq++);
      arrived++;
      nextArrivalMs = nowMs + rng.exponential(1 / lambdaPerMs);
    } else {
      attained = heap.topKey;
      nowMs = completionMs;
      totalResponseMs += nowMs - (heap.pop() as number);
    }
  }
  return totalResponseMs / jobs;
}
