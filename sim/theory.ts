/**
 * Analytic baselines for n identical servers fed by Poisson arrivals, so a reader sees how far each
 * measured policy is from what queueing theory says is possible.
 *
 * - Random assignment: each server sees a Poisson stream of rate λ/n (Poisson splitting), so each
 *   is an M/M/1 queue: mean response W = 1/(μ - λ/n), mean wait Wq = ρ/(μ - λ/n).
 *   Source: Kleinrock, Queueing Systems vol. 1 (1975), §3.2; Harchol-Balter, Performance Modeling
 *   and Design of Computer Systems (2013), ch. 13. The same mean holds for processor sharing
 *   (M/M/1-PS), which is what a 1-vCPU VM running several requests does, and there it holds for
 *   ANY service distribution: M/G/1-PS is insensitive, mean response E[S]/(1 - ρ) (Kleinrock, Queueing
 *   Systems vol. 2, 1976, §4.4; Harchol-Balter 2013, ch. 22), so a class mix, deterministic or
 *   lognormal service all have it. A k-vCPU VM shares min(n, k) cores equally among its n requests:
 *   with exponential service its number in system is the M/M/k birth-death chain (departure rate
 *   min(n, k) μ), so random assignment over k-vCPU replicas is M/M/k per replica (Erlang C below).
 * - Round robin: server i gets every n-th arrival, so its interarrival times are Erlang-n (the sum
 *   of n exponentials of rate λ): an E_n/M/1 queue, a G/M/1 queue whose mean response is
 *   1 / (μ(1 - σ)), σ the root in (0, 1) of σ = A*(μ(1 - σ)), A*(s) = (λ / (λ + s))^n the
 *   interarrival Laplace-Stieltjes transform (Kleinrock 1975, §6.4). With exponential service a PS
 *   server empties at rate μ whatever the discipline, so the same mean holds under PS.
 * - Central queue (a dispatcher queue with at most one request per server): M/M/c. Erlang C gives
 *   the probability of waiting, C(c, a) with offered load a = λ/μ; Wq = C / (cμ - λ), W = Wq + 1/μ.
 *   C is computed from Erlang B's recursion B(k) = a·B(k-1) / (k + a·B(k-1)), B(0) = 1, then
 *   C = B / (1 - ρ(1 - B)), which is stable for hundreds of servers (no factorials).
 *   Source: Harchol-Balter (2013) §14.5; Kleinrock (1975) §3.5.
 * - Power of d choices (join the shortest of d sampled queues): the supermarket model's limit as
 *   n → ∞, Mitzenmacher, "The Power of Two Choices in Randomized Load Balancing", IEEE TPDS 12(10),
 *   2001, Theorem 3 / Corollary: with mean service 1 and per-server utilisation λ < 1, the expected
 *   time in system is T_d(λ) = Σ_{i≥1} λ^((d^i − d)/(d − 1)). (d = 1 reduces to M/M/1.)
 *   The sum converges doubly exponentially; terms are added until they fall below 1e-15.
 *
 * All times are in milliseconds; rates in requests per second.
 */

export interface QueueBaseline {
  /** Mean time from arrival to completion. */
  readonly meanResponseMs: number;
  /** Mean time before service starts (0 where the model has no queue before service). */
  readonly meanWaitMs: number;
}

export interface MMcBaseline extends QueueBaseline {
  /** Erlang C: the probability an arrival has to wait. */
  readonly probWait: number;
}

/** Per-server utilisation ρ = λ / (c μ), with λ in requests per second and the mean service in ms. */
export function utilisationOf(arrivalRps: number, serviceMs: number, servers: number): number {
  return (arrivalRps * serviceMs) / 1000 / servers;
}

function checkStable(arrivalRps: number, serviceMs: number, servers: number): number {
  if (!(arrivalRps > 0) || !(serviceMs > 0) || !(servers >= 1) || !Number.isInteger(servers)) {
    throw new Error(`theory: need arrivalRps > 0, serviceMs > 0 and an integer servers >= 1 (got ${arrivalRps}, ${serviceMs}, ${servers})`);
  }
  const utilisation = utilisationOf(arrivalRps, serviceMs, servers);
  if (utilisation >= 1) throw new Error(`theory: utilisation ${utilisation.toFixed(3)} >= 1, the queue is unstable`);
  return utilisation;
}

/** One M/M/1 queue with arrival rate `arrivalRps` and mean service `serviceMs`. */
export function mm1(arrivalRps: number, serviceMs: number): QueueBaseline {
  const rho = checkStable(arrivalRps, serviceMs, 1);
  const meanResponseMs = serviceMs / (1 - rho);
  return { meanResponseMs, meanWaitMs: meanResponseMs - serviceMs };
}

/**
 * Random (or any state-blind Bernoulli) assignment of `arrivalRps` over `servers` queues: M/G/1-PS
 * each (any service distribution) with one vCPU, M/M/k each with k = `vcpus` (exponential service).
 */
export function randomAssignment(arrivalRps: number, serviceMs: number, servers: number, vcpus = 1): QueueBaseline {
  checkStable(arrivalRps, serviceMs, servers * vcpus);
  return vcpus === 1 ? mm1(arrivalRps / servers, serviceMs) : mmc(arrivalRps / servers, serviceMs, vcpus);
}

/** σ of a G/M/1 queue with Erlang-n interarrivals of overall phase rate λ: the root in (0, 1) of σ = (λ / (λ + μ(1 - σ)))^n. */
export function erlangArrivalSigma(arrivalRps: number, serviceMs: number, phases: number): number {
  checkStable(arrivalRps, serviceMs, phases);
  const lambda = arrivalRps / 1000;
  const mu = 1 / serviceMs;
  // Iterating from 0 climbs monotonically to the smallest root, the one in (0, 1) when ρ < 1.
  let sigma = 0;
  for (let i = 0; i < 1_000_000; i++) {
    const next = Math.pow(lambda / (lambda + mu * (1 - sigma)), phases);
    if (Math.abs(next - sigma) < 1e-15) return next;
    sigma = next;
  }
  return sigma;
}

/** Round robin of a Poisson stream over `servers` exponential servers: E_n/M/1 each. */
export function roundRobinAssignment(arrivalRps: number, serviceMs: number, servers: number): QueueBaseline {
  const sigma = erlangArrivalSigma(arrivalRps, serviceMs, servers);
  const meanResponseMs = serviceMs / (1 - sigma);
  return { meanResponseMs, meanWaitMs: meanResponseMs - serviceMs };
}

/** Erlang C: the probability of waiting in an M/M/c queue with offered load `offered` = λ/μ. */
export function erlangC(servers: number, offered: number): number {
  let erlangB = 1;
  for (let k = 1; k <= servers; k++) erlangB = (offered * erlangB) / (k + offered * erlangB);
  const rho = offered / servers;
  return erlangB / (1 - rho * (1 - erlangB));
}

/** M/M/c: one FIFO queue in front of `servers` servers. */
export function mmc(arrivalRps: number, serviceMs: number, servers: number): MMcBaseline {
  checkStable(arrivalRps, serviceMs, servers);
  const lambdaPerMs = arrivalRps / 1000;
  const offered = lambdaPerMs * serviceMs;
  const probWait = erlangC(servers, offered);
  const meanWaitMs = probWait / (servers / serviceMs - lambdaPerMs);
  return { probWait, meanWaitMs, meanResponseMs: meanWaitMs + serviceMs };
}

/** Mitzenmacher's T_d(λ) for mean service 1 (the n → ∞ limit of power-of-d). */
export function supermarketTime(utilisation: number, d: number): number {
  if (!(utilisation >= 0 && utilisation < 1)) throw new Error(`theory: supermarket model needs 0 <= utilisation < 1, got ${utilisation}`);
  if (!(d >= 1) || !Number.isInteger(d)) throw new Error(`theory: d must be an integer >= 1, got ${d}`);
  if (d === 1) return 1 / (1 - utilisation);
  let total = 0;
  for (let i = 1; ; i++) {
    const exponent = (Math.pow(d, i) - d) / (d - 1);
    const term = Math.pow(utilisation, exponent);
    total += term;
    if (term < 1e-15 || !Number.isFinite(exponent)) return total;
  }
}

/** Power-of-d over `servers` identical queues, in the supermarket (n → ∞) limit. */
export function powerOfD(arrivalRps: number, serviceMs: number, servers: number, d: number): QueueBaseline {
  const utilisation = checkStable(arrivalRps, serviceMs, servers);
  const meanResponseMs = supermarketTime(utilisation, d) * serviceMs;
  return { meanResponseMs, meanWaitMs: meanResponseMs - serviceMs };
}
