import { createFleet } from '../backends/hypervisor/fleet.js';
import type { Fleet, VmPort } from '../backends/hypervisor/types.js';
import type { Clock } from '../core/clock.js';
import type { Report, PolicyRun } from '../core/report.js';
import { createRng } from '../core/rng.js';
import { timelineBucketMs } from '../core/run-accumulator.js';
import { policyLabel, replicaVms, type PolicySpec, type Scenario } from '../core/scenario.js';
import type { Millis } from '../core/types.js';
import { VirtualClock } from '../core/virtual-clock.js';
import { Balancer } from '../dispatcher/balancer/balancer.js';
import { DeadlineQueue } from '../dispatcher/balancer/deadlines.js';
import { HealthChecker, type HealthProbe } from '../dispatcher/balancer/health-check.js';
import { isRetryable, type BalancerObserver } from '../dispatcher/balancer/types.js';
import { createPolicy } from '../policies/index.js';
import { SimDriver } from './driver.js';
import { fleetCpuCounters, RunStats } from './run-stats.js';
import { theoryFor } from './theory-block.js';
import { SimWorkload } from './workload.js';

/**
 * `simulate`: the scenario's policies run one after the other on the VirtualClock, each through the
 * same Balancer, policy objects and hypervisor model as the live dispatcher, with no HTTP. Each run
 * starts from a fresh clock, fleet and Rng with the scenario's seed, so every policy sees the same
 * arrivals, sessions and request costs. The report has the same format as `compare`'s, with
 * mode "simulate" and, where the scenario admits it, the analytic baselines (theory-block.ts).
 */

export interface SimProgress {
  readonly policy: string;
  /** 0-based index of the policy being run, and how many there are. */
  readonly policyIndex: number;
  readonly policies: number;
  /** Requests issued so far in this run, warmup included. */
  readonly issued: number;
  /** How far the run is, 0..1: virtual time over the duration, or requests over the requests asked for. */
  readonly fraction: number;
  readonly simulatedMs: Millis;
  readonly done: boolean;
}

export interface SimulateOptions {
  /** Default: the scenario's `policies`. */
  readonly policies?: readonly PolicySpec[];
  /** Measured requests (arriving after the warmup) per policy; replaces the duration. */
  readonly requests?: number;
  /** Overrides the scenario's duration (warmup included, as in the scenario). */
  readonly durationMs?: Millis;
  /** Independent dispatchers sharing the fleet (default 1). */
  readonly dispatchers?: number;
  readonly onProgress?: (progress: SimProgress) => void;
  /**
   * Called once the fleet runs, before the first arrival, with the run's fleet and VirtualClock:
   * schedule changes to the model there (its runtime controls: crash, owner visits, host load),
   * the same calls the dashboard's fault buttons make live.
   */
  readonly atStart?: (fleet: Fleet, clock: Clock) => void;
  /**
   * The policy threw or picked a backend it may not. The request fails with code 500 in the
   * report, as the live dispatcher answers it; this hears why (the live dispatcher logs it).
   */
  readonly onPolicyError?: (message: string) => void;
  /** Hears every attempt as it ends, as StartDispatcherOptions.onAttemptEnded does live. */
  readonly onAttemptEnded?: BalancerObserver['onAttemptEnded'];
  /**
   * Open loop: measure as `compare` does live, the warm-up drained before the window starts from
   * an empty fleet (DriverOptions.drainAfterWarmup); the window lasts duration - warmup either way.
   * `compare` sets it for its simulated baseline; `simulate` measures the steady state that follows
   * the warm-up, which the queueing-theory baselines describe.
   */
  readonly drainAfterWarmup?: boolean;
}

/** The simulator's health probe: a VM answers while it runs (not suspended, migrating or crashed). */
function vmProbe(fleet: Fleet): HealthProbe {
  return (id, done) => done(fleet.hostOf(id).status(id) === 'running');
}

/** A replica's VM port, resolved once: its backend's data, which every lease hands the driver back. */
function vmPort(fleet: Fleet, id: string): VmPort {
  return fleet.hostOf(id).port(id);
}

/** The options' own checks (a policy run also makes them); throws a readable Error. */
export function checkOptions(scenario: Scenario, opts: SimulateOptions): void {
  if (opts.requests !== undefined && !(Number.isInteger(opts.requests) && opts.requests > 0)) {
    throw new Error(`simulate: requests must be a positive integer, got ${opts.requests}`);
  }
  if (opts.durationMs !== undefined && !(opts.durationMs > scenario.warmup)) {
    throw new Error(`simulate: the duration (${opts.durationMs} ms) must be longer than the warmup (${scenario.warmup} ms)`);
  }
  const k = opts.dispatchers ?? 1;
  if (!(Number.isInteger(k) && k >= 1)) throw new Error(`simulate: dispatchers must be an integer >= 1, got ${k}`);
}

/** One policy run, with what it cost: simulation events run (clock events and open-loop arrivals) and virtual time covered. */
export interface PolicyRunResult {
  readonly run: PolicyRun;
  readonly events: number;
  readonly simulatedMs: Millis;
}

/** One policy on a fresh fleet. */
export function simulatePolicy(scenario: Scenario, spec: PolicySpec, opts: SimulateOptions = {}): PolicyRun {
  return runPolicy(scenario, spec, opts).run;
}

/** One policy on a fresh fleet, with the run's event count (for benchmarks and the report's environment). */
export function runPolicy(
  scenario: Scenario,
  spec: PolicySpec,
  opts: SimulateOptions = {},
  progress?: (issued: number, nowMs: Millis, done: boolean) => void,
): PolicyRunResult {
  checkOptions(scenario, opts);
  const dispatchers = opts.dispatchers ?? 1;
  const clock = new VirtualClock();
  const rng = createRng(scenario.seed);
  const fleet = createFleet(scenario, { clock });
  const replicas = replicaVms(scenario).map((vm) => ({ id: vm.name, host: vm.host, kind: vm.kind, weight: vm.weight, data: vmPort(fleet, vm.name) }));
  const policies = Array.from({ length: dispatchers }, (_, k) => createPolicy(spec, { rng: rng.stream(`policy-${k}`) }));
  // The root Rng's 'arrivals', 'sessions' and 'classes' streams, as the live open-loop generator draws
  // them (loadtest/request-plan.ts): one seed gives the same arrivals live and simulated.
  const workload = new SimWorkload(scenario, rng);

  const warmupMs = scenario.warmup;
  const stopAtMs = opts.requests !== undefined ? Number.POSITIVE_INFINITY : (opts.durationMs ?? scenario.duration);
  const expectedWindowMs =
    opts.requests !== undefined && workload.openLoop ? (opts.requests * 1000) / workload.rateRps : (opts.durationMs ?? scenario.duration) - warmupMs;
  const stats = new RunStats(replicas, warmupMs, timelineBucketMs(warmupMs + expectedWindowMs));
  const sticky = policies[0].sticky === true;
  // The window's start: the warm-up's end, or (drainAfterWarmup) the end of its drain.
  let windowStartMs = warmupMs;
  const onSticky = (hit: boolean): void => {
    if (clock.now() < windowStartMs) return;
    if (hit) stats.stickyHits++;
    else stats.stickyMisses++;
  };
  const observer: BalancerObserver = {
    ...(sticky ? { onSticky } : {}),
    ...(opts.onPolicyError ? { onPolicyError: opts.onPolicyError } : {}),
    ...(opts.onAttemptEnded ? { onAttemptEnded: opts.onAttemptEnded } : {}),
  };
  const balancers = policies.map((policy) => new Balancer({ clock, policy, settings: scenario.dispatcher, backends: replicas, observer }));
  const checkers = balancers.map((balancer) => new HealthChecker({ clock, balancer, settings: scenario.dispatcher.healthCheck, probe: vmProbe(fleet) }));
  // The prober's worst-case phase: a status change is found intervalMs * fall (or * rise) after it.
  for (const host of fleet.hosts) host.onStatusChange((vm) => {
    for (const checker of checkers) checker.resync(vm);
  });
  // Decided once per class (the rule reads the method string), not on every request.
  const retryableClasses = new Set(scenario.workload.classes.filter((c) => isRetryable(c.method, c.bodyBytes > 0)));
  const driver = new SimDriver({
    clock,
    balancers,
    workload,
    events: stats.events,
    warmupMs,
    stopAtMs,
    measuredLimit: opts.requests ?? Number.POSITIVE_INFINITY,
    retryable: (cls) => retryableClasses.has(cls),
    socketClients: scenario.dispatcher.clientAddress === 'socket',
    deadlines: {
      upstream: new DeadlineQueue(clock, scenario.dispatcher.timeouts.upstreamMs),
      total: new DeadlineQueue(clock, scenario.dispatcher.timeouts.totalMs),
    },
    drainAfterWarmup: opts.drainAfterWarmup,
    onWindowStart: (atMs) => startWindow(atMs),
  });

  let cpuAtWarmup = fleetCpuCounters(fleet);
  function startWindow(atMs: Millis): void {
    windowStartMs = atMs;
    stats.events.startWindow(atMs);
    cpuAtWarmup = fleetCpuCounters(fleet);
  }
  if (driver.drains) stats.events.startWindow(Infinity);
  else clock.schedule(warmupMs, () => startWindow(warmupMs));
  for (const checker of checkers) checker.start();
  fleet.start();
  opts.atStart?.(fleet, clock);
  driver.start();
  driver.run(progress && (() => progress(driver.issued, clock.now(), false)));
  const cpuAtEnd = fleetCpuCounters(fleet);
  for (const checker of checkers) checker.stop();
  fleet.stop();
  progress?.(driver.issued, clock.now(), true);
  const run = stats.toPolicyRun({
    label: policyLabel(spec),
    // Issuing stops at the first arrival at or past the end; the window itself ends at the end.
    measuredWindowMs: Math.max(0, Math.min(driver.stoppedAtMs, windowStartMs + (stopAtMs - warmupMs)) - windowStartMs),
    cpuAtWarmup,
    cpuAtEnd,
  });
  return { run, events: clock.eventsRun + driver.arrivals, simulatedMs: clock.now() };
}

/** Every policy of the scenario (or `opts.policies`), same seed each, plus the theory block. */
export function simulate(scenario: Scenario, opts: SimulateOptions = {}): Report {
  checkOptions(scenario, opts);
  const specs = opts.policies ?? scenario.policies;
  const progress = policyProgress(scenario, opts);
  return simulationReport(
    scenario,
    opts,
    specs.map((spec, policyIndex) => runPolicy(scenario, spec, opts, progress(policyIndex))),
  );
}

/**
 * The progress callback runPolicy takes for policy `policyIndex` of the run, turned into what
 * `opts.onProgress` hears. Each policy run is independent of the others (a fresh clock, fleet and
 * Rng with the scenario's seed), so they may also run at once, on worker threads
 * (cli/sim-workers.ts), and report through these.
 */
export function policyProgress(
  scenario: Scenario,
  opts: SimulateOptions,
): (policyIndex: number) => (issued: number, simulatedMs: Millis, done: boolean) => void {
  const specs = opts.policies ?? scenario.policies;
  const fraction = progressFraction(scenario, opts);
  return (policyIndex) => (issued, simulatedMs, done) =>
    opts.onProgress?.({
      policy: policyLabel(specs[policyIndex]),
      policyIndex,
      policies: specs.length,
      issued,
      fraction: done ? 1 : fraction(issued, simulatedMs),
      simulatedMs,
      done,
    });
}

/** The report of `simulate` from its policy runs, in the order of `opts.policies` (or the scenario's). */
export function simulationReport(scenario: Scenario, opts: SimulateOptions, results: readonly PolicyRunResult[]): Report {
  return {
    mode: 'simulate',
    scenario: scenario.name,
    seed: scenario.seed,
    environment: {
      engine: 'VirtualClock (discrete events, virtual time)',
      dispatchers: opts.dispatchers ?? 1,
      ...(opts.requests !== undefined ? { requestsPerPolicy: opts.requests } : { durationMs: opts.durationMs ?? scenario.duration }),
      warmupMs: scenario.warmup,
      events: results.reduce((sum, r) => sum + r.events, 0),
      simulatedSeconds: results.reduce((sum, r) => sum + r.simulatedMs, 0) / 1000,
      healthDetection: 'a VM that stops answering is set down healthCheck.intervalMs * fall after it stops, up intervalMs * rise after it runs again',
      dispatcherCpu: { notApplicable: 'virtual time: the dispatchers are model code on the VirtualClock and cost no time, so they are never the bottleneck' },
    },
    runs: results.map((r) => r.run),
    theory: { ...theoryFor(scenario) },
  };
}

/**
 * How far a run is, for progress bars: by virtual time when it runs for a duration; by requests
 * issued when it runs for a number of them (the open loop's warmup requests estimated from its rate,
 * the closed loop's counted in, so its bar reaches the end a little early).
 */
function progressFraction(scenario: Scenario, opts: SimulateOptions): (issued: number, simulatedMs: Millis) => number {
  if (opts.requests === undefined) {
    const durationMs = opts.durationMs ?? scenario.duration;
    return (_issued, simulatedMs) => Math.min(1, simulatedMs / durationMs);
  }
  const arrival = scenario.workload.arrival;
  const total = opts.requests + ('rateRps' in arrival ? (arrival.rateRps * scenario.warmup) / 1000 : 0);
  return (issued) => Math.min(1, issued / total);
}
