import type { PolicySpec, Scenario } from '../core/scenario.js';
import { simulate } from './simulation.js';
import { theoryFor } from './theory-block.js';

/**
 * Latency against load: `simulate --sweep rate=100..1000:10` runs every policy at each of 10
 * arrival rates from 100 to 1000 req/s (or `utilisation=0.1..0.95:10`, for scenarios queueing
 * theory describes), and gives each point's mean and p99 per policy beside the theory's means where
 * they exist: the hockey stick every textbook draws. Each point is an ordinary `simulate` of the
 * scenario with only the rate changed, so its seed, warm-up and requests are the scenario's. The
 * points are independent, so a caller may run them in parallel (cli/sim-workers.ts).
 */

export type SweepParameter = 'rate' | 'utilisation';

export interface SweepSpec {
  readonly parameter: SweepParameter;
  readonly from: number;
  readonly to: number;
  readonly points: number;
}

export interface SweepPolicyPoint {
  readonly policy: string;
  readonly requests: number;
  readonly errors: number;
  readonly meanMs: number;
  readonly p99Ms: number;
}

export interface SweepPoint {
  readonly rateRps: number;
  /** Offered load per replica, when theory applies to the scenario at this rate. */
  readonly utilisation?: number;
  readonly runs: readonly SweepPolicyPoint[];
  /** Theory's mean response times (ms) at this rate, where the scenario admits them. */
  readonly theory?: { readonly random: number; readonly centralQueue: number; readonly powerOfTwo: number };
}

export interface SweepReport {
  readonly mode: 'simulate';
  readonly scenario: string;
  readonly seed: number;
  readonly sweep: SweepSpec;
  readonly requestsPerPoint: number;
  readonly points: readonly SweepPoint[];
}

const SWEEP = /^(rate|utilisation|utilization)=([0-9]*\.?[0-9]+)\.\.([0-9]*\.?[0-9]+):([0-9]+)$/;

export class SweepError extends Error {
  override name = 'SweepError';
}

/** `rate=100..1000:10`: parameter, first and last value, number of points (both ends included). */
export function parseSweep(text: string): SweepSpec {
  const m = SWEEP.exec(text.trim());
  if (m === null) throw new SweepError(`"${text}": expected rate=FROM..TO:POINTS or utilisation=FROM..TO:POINTS, e.g. rate=100..1000:10`);
  const parameter: SweepParameter = m[1] === 'rate' ? 'rate' : 'utilisation';
  const [from, to, points] = [Number(m[2]), Number(m[3]), Number(m[4])];
  if (!(from > 0) || !(to > from)) throw new SweepError(`"${text}": expected 0 < FROM < TO`);
  if (!(points >= 2 && points <= 200)) throw new SweepError(`"${text}": expected 2 to 200 points`);
  if (parameter === 'utilisation' && to >= 1) throw new SweepError(`"${text}": a utilisation of 1 or more has no steady state; sweep up to below 1`);
  return { parameter, from, to, points };
}

/** The scenario at another open-loop rate, everything else unchanged. */
function atRate(scenario: Scenario, rateRps: number): Scenario {
  return { ...scenario, workload: { ...scenario.workload, arrival: { rateRps } } };
}

/** The arrival rates of the sweep's points, evenly spaced in its parameter. */
export function sweepRates(scenario: Scenario, spec: SweepSpec): number[] {
  if (!('rateRps' in scenario.workload.arrival)) throw new SweepError('a sweep varies the open-loop rate; this scenario has a closed loop (connections)');
  const values = Array.from({ length: spec.points }, (_, i) => spec.from + ((spec.to - spec.from) * i) / (spec.points - 1));
  if (spec.parameter === 'rate') return values;
  // Utilisation is proportional to the rate: scale by the scenario's own ratio, which theory knows.
  const theory = theoryFor(atRate(scenario, 1e-6));
  if (!theory.applicable || theory.utilisation === undefined) {
    const rateRps = scenario.workload.arrival.rateRps;
    throw new SweepError(
      `a utilisation sweep needs a scenario queueing theory describes (${theory.reasons.join('; ')}); sweep the rate instead, e.g. rate=${+(rateRps / 4).toPrecision(3)}..${+(rateRps * 1.25).toPrecision(3)}:6 around the scenario's ${rateRps} req/s`,
    );
  }
  const perRps = theory.utilisation / 1e-6;
  return values.map((u) => u / perRps);
}

/** One point: every policy on the scenario at this rate. */
export function runSweepPoint(scenario: Scenario, rateRps: number, policies: readonly PolicySpec[], requests: number): SweepPoint {
  const s = atRate(scenario, rateRps);
  const report = simulate(s, { policies, requests });
  const theory = theoryFor(s);
  return {
    rateRps,
    ...(theory.utilisation !== undefined ? { utilisation: theory.utilisation } : {}),
    runs: report.runs.map((r) => ({ policy: r.policy, requests: r.requests, errors: r.errors, meanMs: r.latencyMs.mean, p99Ms: r.latencyMs.p99 })),
    ...(theory.applicable && theory.random && theory.centralQueue && theory.powerOfTwo
      ? { theory: { random: theory.random.meanResponseMs, centralQueue: theory.centralQueue.meanResponseMs, powerOfTwo: theory.powerOfTwo.meanResponseMs } }
      : {}),
  };
}
