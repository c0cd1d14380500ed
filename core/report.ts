/**
 * The report both `compare` (live) and `simulate` (virtual time) write (docs: README,
 * "Reports"), so any two runs can be put side by side. Fields may be added; these stay.
 *
 * Every request field means the same in both modes: both are built by one accumulator
 * (core/run-accumulator.ts) from one stream of request events (core/request-events.ts). "The
 * window" is the measured window, after the warm-up; "a request of the window" is one that arrived
 * in it, followed to its answer even when that comes after the window (the drain).
 */

/** Latency of the successful (1xx-3xx) answers, from the request's arrival at the dispatcher to its answer. */
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
  /** Its VM's kind (scenario `vms[].kind`, by default the name of the entry that made it). */
  readonly kind?: string;
  /** Attempts dispatched to this backend (first attempts and retries) for requests of the window. */
  readonly requests: number;
  /** requests / the attempts over all backends; shares sum to 1. */
  readonly share: number;
  /** Of those attempts, the ones that failed by the backend's fault (connect error, reset, timeout, 5xx). */
  readonly errors?: number;
  /** CPU seconds its VM ran in the window, and vCPU seconds it wanted and did not get (steal). */
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
  /** Requests of the window: every arrival, answered or not, plus (live) the arrivals the generator dropped. */
  readonly requests: number;
  /** Requests of the window without a successful answer: any answer other than 1xx-3xx, plus the dropped ones. requests = successes + errors. */
  readonly errors: number;
  /** Arrivals of the window the open-loop generator could not send (it had maxInFlight outstanding); counted in requests and errors. Always 0 simulated. */
  readonly dropped?: number;
  /** Live, open loop: arrivals of the window the generator sent 10 ms or more after their intended time (it or its machine fell behind). */
  readonly late?: number;
  /** Live, open loop: how long after its intended time an arrival was sent. */
  readonly sendLagMs?: { readonly p99: number; readonly max: number };
  /** Successful answers to requests of the window, per second of the window (the drain is not in the denominator). */
  readonly throughputRps: number;
  readonly latencyMs: LatencySummary;
  /**
   * Live only: the successful answers' latency as the load generator saw it, from the intended send
   * time (open loop) or the send (closed loop) to the response's end. latencyMs plus the loopback
   * network and the generator's own lateness.
   */
  readonly clientLatencyMs?: LatencySummary;
  readonly backends: readonly BackendShare[];
  /** Every VM of the fleet, replicas and neighbours, with its CPU and steal seconds in the run. */
  readonly vms?: readonly VmUsage[];
  /** max share / mean share over the replicas (1 = perfectly even). */
  readonly imbalance?: number;
  /** Jain's fairness index of the per-backend request counts (1 = perfectly even, 1/n = one takes all). */
  readonly jain?: number;
  /** Sticky hits / (hits + misses); undefined for policies that do not pin sessions. */
  readonly stickyHitRatio?: number;
  /** Attempts after the first, over the requests of the window. */
  readonly retries?: number;
  /** Time an attempt waited in the dispatcher queue before it was dispatched (0 when it went straight to a backend), over all attempts of the window. */
  readonly queueWaitMs?: { readonly mean: number; readonly p99: number };
  /**
   * Live runs only: how late the hosts' completion timers fired in the measured window (the
   * machine's share of every answer's latency; the model's own time is exact). Large values mean
   * the machine, not the model, set the latency.
   */
  readonly timerLatenessMs?: { readonly mean: number; readonly p99: number };
  /**
   * Live runs only: the mean time a request of the window spent in its VM, in model time
   * (dispatchlab_vm_service_seconds): the part of latencyMs.mean the model set. The rest is the
   * proxy's and the machine's: the hops to and from the replica and event-loop lag.
   */
  readonly modelMeanMs?: number;
  /** The errors by answer: HTTP status, "error" (502, connection failed), "timeout" (504), "499" (client left), "dropped". Sums to errors. */
  readonly errorsByCode?: Readonly<Record<string, number>>;
  /**
   * Latency over time: one point per bucket from the run's start, warm-up included, by arrival time
   * (tMs from the start); p50/p99 of the successful answers, rps counts them.
   */
  readonly timeline?: ReadonlyArray<{ readonly tMs: number; readonly p50: number; readonly p99: number; readonly rps: number }>;
  /** Whether the run met the report's SLO (`Report.slo`), and which thresholds it missed; absent without an SLO. */
  readonly slo?: { readonly pass: boolean; readonly failed: readonly string[] };
  /** Where the measured window starts on the timeline (tMs): what comes before is warm-up. */
  readonly timelineWarmupMs?: number;
  /** Latency CDF points for charts: [latencyMs, fraction <= latencyMs]. */
  readonly cdf?: ReadonlyArray<readonly [number, number]>;
}

/**
 * How busy the dispatcher's process was in each policy's measured window: CPU seconds (user +
 * system, `process.cpuUsage()`) over the window's wall seconds, so coreShare 1 is one core fully
 * busy. A Node process runs its JavaScript on one thread: a coreShare near 1 means the dispatcher
 * process, not the replicas, set the pace. `compare` runs the dispatcher and the hosts' models in
 * one process, named in `process`, so the share is theirs together (an upper bound of the
 * dispatcher's own); `compare --workers N` adds up the N dispatcher processes, the dispatcher alone
 * (then near N, not 1, is saturated). `simulate` has no dispatcher process: `notApplicable` says so.
 */
export type DispatcherCpu =
  | {
      readonly process: string;
      readonly cores: number;
      readonly byPolicy: Readonly<Record<string, { readonly cpuSeconds: number; readonly coreShare: number }>>;
    }
  | { readonly notApplicable: string };

/** The report's `environment`: free-form lines about what ran where, and the fields defined here. */
export type ReportEnvironment = Readonly<Record<string, unknown>> & { readonly dispatcherCpu?: DispatcherCpu };

export interface Report {
  readonly mode: 'live' | 'simulate';
  readonly scenario: string;
  readonly seed: number;
  readonly createdAt?: string;
  /** The command that reproduces this report. */
  readonly command?: string;
  /** What ran where (live) or how the simulation was driven. */
  readonly environment?: ReportEnvironment;
  readonly runs: readonly PolicyRun[];
  /** Present when the run was interrupted (Ctrl-C): the policies that did not finish, in order; `runs` holds the ones that did. */
  readonly interrupted?: { readonly notFinished: readonly string[] };
  /** Live runs: each policy's latency beside its simulation (report/against-sim.ts). */
  readonly againstSim?: readonly AgainstSimRow[];
  /** The SLO the runs were checked against, as written (`p99<200ms,errors<1%`: core/slo.ts). */
  readonly slo?: string;
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

/**
 * Sticky hits / (hits + misses), or undefined when no request arrived with a pin (a policy that
 * does not pin, or sessions that never came back): `compare` reads it from the dispatcher's
 * counters and `simulate` from the Balancer's observer, and both call this, so a run without pins
 * shows "-" in either table, not 100%.
 */
export function stickyHitRatio(hits: number, misses: number): number | undefined {
  return hits + misses > 0 ? hits / (hits + misses) : undefined;
}

/** max / mean of the values (1 = even). */
export function maxOverMean(values: readonly number[]): number {
  if (values.length === 0) return 1;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return mean === 0 ? 1 : Math.max(...values) / mean;
}

/** One policy of a live run beside its simulation (report/against-sim.ts). */
export interface AgainstSimRow {
  readonly policy: string;
  readonly liveMeanMs: number;
  readonly simulatedMeanMs: number;
  readonly liveP99Ms: number;
  readonly simulatedP99Ms: number;
  /** live / simulated mean. */
  readonly meanRatio: number;
  /** Mean lateness of the hosts' completion timers in the live run: what the machine added to every answer. */
  readonly timerLatenessMs: number;
  /** The live run's mean time in the VMs, in model time (PolicyRun.modelMeanMs): beside simulatedMeanMs, the model's own answer to the live arrivals. */
  readonly liveModelMeanMs?: number;
  /**
   * agrees: live within 10% + 1 ms of simulated (mean; p99 within 20% + 2 ms); explained: farther,
   * but not beyond what the timer lateness adds; decisions-differ: the live mean is below that
   * (a machine only adds time: the live picks were other than the simulated ones); diverges: above.
   */
  readonly verdict: 'agrees' | 'explained' | 'decisions-differ' | 'diverges';
}
