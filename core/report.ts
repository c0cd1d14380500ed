/**
 * The report both `compare` (live) and `simulate` (virtual time) write, so any two runs can be
 * put side by side. Fields may be added; these stay.
 */

export interface LatencySummary {
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

export interface BackendShare {
  readonly id: string;
  readonly host: string;
  readonly requests: number;
  /** requests / the run's total requests over all backends; shares sum to 1. */
  readonly share: number;
  readonly errors?: number;
  readonly cpuSeconds?: number;
  readonly stealSeconds?: number;
}

/** One VM's CPU use over a run, replica or not (a noisy neighbour's steal matters too). */
export interface VmUsage {
  readonly vm: string;
  readonly host: string;
  readonly serves: boolean;
  readonly cpuSeconds: number;
  readonly stealSeconds: number;
}

export interface PolicyRun {
  /** The policy's label (its name unless the scenario gave a label). */
  readonly policy: string;
  readonly requests: number;
  readonly errors: number;
  readonly throughputRps: number;
  readonly latencyMs: LatencySummary;
  readonly backends: readonly BackendShare[];
  /** Every VM of the fleet, replicas and neighbours, with its CPU and steal seconds in the run. */
  readonly vms?: readonly VmUsage[];
  /** max share / mean share over the replicas (1 = perfectly even). */
  readonly imbalance?: number;
  /** Jain's fairness index of the per-backend request counts (1 = perfectly even, 1/n = one takes all). */
  readonly jain?: number;
  /** Sticky hits / (hits + misses); undefined for policies that do not pin sessions. */
  readonly stickyHitRatio?: number;
  readonly retries?: number;
  readonly queueWaitMs?: { readonly mean: number; readonly p99: number };
  /**
   * Live runs only: how late the hosts' completion timers fired in the measured window (the
   * machine's share of every answer's latency; the model's own time is exact). Large values mean
   * the machine, not the model, set the latency.
   */
  readonly timerLatenessMs?: { readonly mean: number; readonly p99: number };
  readonly errorsByCode?: Readonly<Record<string, number>>;
  /** Latency over time: one point per bucket of the run. */
  readonly timeline?: ReadonlyArray<{ readonly tMs: number; readonly p50: number; readonly p99: number; readonly rps: number }>;
  /** Latency CDF points for charts: [latencyMs, fraction <= latencyMs]. */
  readonly cdf?: ReadonlyArray<readonly [number, number]>;
}

export interface Report {
  readonly mode: 'live' | 'simulate';
  readonly scenario: string;
  readonly seed: number;
  readonly createdAt?: string;
  /** The command that reproduces this report. */
  readonly command?: string;
  /** What ran where (live) or how the simulation was driven. */
  readonly environment?: Readonly<Record<string, unknown>>;
  readonly runs: readonly PolicyRun[];
  readonly theory?: Readonly<Record<string, unknown>>;
}

/** Jain's fairness index: (sum x)^2 / (n * sum x^2). */
export function jainIndex(values: readonly number[]): number {
  if (values.length === 0) return 1;
  let sum = 0;
  let sumSq = 0;
  for (const v of values) {
    sum += v;
    sumSq += v * v;
  }
  return sumSq === 0 ? 1 : (sum * sum) / (values.length * sumSq);
}

/** max / mean of the values (1 = even). */
export function maxOverMean(values: readonly number[]): number {
  if (values.length === 0) return 1;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return mean === 0 ? 1 : Math.max(...values) / mean;
}
