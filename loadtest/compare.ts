import os from 'node:os';
import type { PolicyRun, Report } from '../core/report.js';
import { jainIndex, maxOverMean } from '../core/report.js';
import { policyLabel, replicaVms, type PolicySpec, type Scenario } from '../core/scenario.js';
import type { Millis } from '../core/types.js';
import { startUp } from '../dispatcher/local-fleet.js';
import { fleetDelta, scrapeFleet, type FleetScrape } from './fleet-metrics.js';
import { isSuccess, type LoadPlan, type LoadTick } from './load-plan.js';
import { runLoadInChild, type ChildLoadResult } from './loadgen.js';

/**
 * `compare`: the policies measured live on the same work. For each policy, in turn: start a fresh
 * fleet (every host of the scenario and the dispatcher, in this process, same scenario, same
 * seed), run the load in a child process (warm-up, drain, measured window, drain), scrape the
 * dispatcher's and the hosts' metrics at both ends of the measured window, tear the fleet down.
 * The load generator re-uses one seed, so every policy gets the same arrivals, classes and sessions.
 */

export interface CompareProgress {
  readonly policy: string;
  /** 0-based index of the run, and how many there are. */
  readonly index: number;
  readonly total: number;
  readonly stage: 'starting' | 'load' | 'done';
  readonly tick?: LoadTick;
  /** The measured window's length, for a progress bar. */
  readonly durationMs: Millis;
  readonly warmupMs: Millis;
}

export interface CompareOptions {
  readonly scenario: Scenario;
  /** Default: the scenario's `policies`. */
  readonly policies?: readonly PolicySpec[];
  /** Run length per policy, warm-up included, as the scenario's `duration` (its default). */
  readonly durationMs?: Millis;
  /** Default: the scenario's warm-up. */
  readonly warmupMs?: Millis;
  /** Open loop at this rate (overrides the scenario's arrival). */
  readonly rateRps?: number;
  /** Closed loop with this many connections (overrides the scenario's arrival). */
  readonly connections?: number;
  /** The command line that reproduces the run, for the report. */
  readonly command?: string;
  readonly onProgress?: (progress: CompareProgress) => void;
}

/** Generator bounds: a request is abandoned after this long, and at most this many are outstanding. */
const REQUEST_TIMEOUT_MS = 30_000;
const MAX_IN_FLIGHT = 1024;

function loadPlan(opts: CompareOptions, url: string, warmupMs: Millis, measureMs: Millis): LoadPlan {
  const { scenario } = opts;
  const base = { url, seed: scenario.seed, classes: scenario.workload.classes, sessions: scenario.workload.sessions, warmupMs, durationMs: measureMs, timeoutMs: REQUEST_TIMEOUT_MS };
  if (opts.rateRps !== undefined && opts.connections !== undefined) throw new Error('compare: give a rate (open loop) or connections (closed loop), not both');
  const arrival = scenario.workload.arrival;
  const connections = opts.connections ?? (opts.rateRps === undefined && 'connections' in arrival ? arrival.connections : undefined);
  if (connections !== undefined) return { ...base, kind: 'closed', connections };
  const rateRps = opts.rateRps ?? ('rateRps' in arrival ? arrival.rateRps : undefined);
  if (rateRps === undefined || !(rateRps > 0)) throw new Error('compare: the open loop needs a rate > 0');
  return { ...base, kind: 'open', rateRps, maxInFlight: MAX_IN_FLIGHT };
}

function policyRun(label: string, scenario: Scenario, load: ChildLoadResult, before: FleetScrape, after: FleetScrape): PolicyRun {
  const fleet = fleetDelta(scenario, before, after);
  const ok = Object.entries(load.codes).reduce((acc, [code, n]) => acc + (isSuccess(code) ? n : 0), 0);
  // What only the client sees (arrivals not sent, its own timeouts and failed connections to the
  // dispatcher) joins the dispatcher's codes, named so they cannot be mistaken for them.
  const errorsByCode = { ...fleet.errorsByCode };
  for (const [code, name] of [['dropped', 'dropped'], ['timeout', 'client-timeout'], ['error', 'client-error']]) {
    if ((load.codes[code] ?? 0) > 0) errorsByCode[name] = load.codes[code];
  }
  const counts = fleet.backends.map((b) => b.requests);
  return {
    policy: label,
    requests: load.requests,
    errors: load.errors,
    throughputRps: load.elapsedMs > 0 ? (ok * 1000) / load.elapsedMs : 0,
    latencyMs: load.latencyMs,
    backends: fleet.backends,
    vms: fleet.vms,
    imbalance: maxOverMean(counts),
    jain: jainIndex(counts),
    stickyHitRatio: fleet.stickyHitRatio,
    retries: fleet.retries,
    queueWaitMs: fleet.queueWaitMs,
    timerLatenessMs: fleet.timerLatenessMs,
    errorsByCode,
    timeline: load.timeline,
    cdf: load.cdf,
  };
}

export async function runCompare(opts: CompareOptions): Promise<Report> {
  const { scenario } = opts;
  const policies = opts.policies ?? scenario.policies;
  if (policies.length === 0) throw new Error('compare: no policies to compare');
  const warmupMs = opts.warmupMs ?? scenario.warmup;
  // The measured window is what follows the warm-up, as in the scenario and in `simulate`.
  const measureMs = (opts.durationMs ?? scenario.duration) - warmupMs;
  if (!(measureMs > 0)) throw new Error(`compare: the duration (${opts.durationMs ?? scenario.duration} ms) must be longer than the warm-up (${warmupMs} ms)`);
  const runs: PolicyRun[] = [];
  let plan: LoadPlan | undefined;
  const generatorPids: number[] = [];

  for (const [index, spec] of policies.entries()) {
    const label = policyLabel(spec);
    const progress = (stage: CompareProgress['stage'], tick?: LoadTick): void =>
      opts.onProgress?.({ policy: label, index, total: policies.length, stage, tick, durationMs: measureMs, warmupMs });
    progress('starting');
    const up = await startUp({ scenario, policy: spec });
    try {
      const endpoints = { dispatcherMetricsUrl: `${up.dispatcher.adminUrl}/metrics`, hostMetricsUrls: up.hosts.map((h) => h.metricsUrl) };
      plan = loadPlan(opts, up.dispatcher.url, warmupMs, measureMs);
      let before: FleetScrape | undefined;
      const load = await runLoadInChild(plan, {
        onTick: (tick) => progress('load', tick),
        beforeMeasure: async () => {
          before = await scrapeFleet(endpoints);
        },
      });
      const after = await scrapeFleet(endpoints);
      if (before === undefined) throw new Error('compare: the load generator never reached the measured window');
      generatorPids.push(load.pid);
      runs.push(policyRun(label, scenario, load, before, after));
    } finally {
      await up.close();
    }
    progress('done');
  }

  const replicas = replicaVms(scenario);
  return {
    mode: 'live',
    scenario: scenario.name,
    seed: scenario.seed,
    createdAt: new Date().toISOString(),
    command: opts.command,
    environment: {
      systemUnderTest: `dispatcher and ${scenario.hosts.length} hypervisor host(s) with ${replicas.length} replicas, in one process (pid ${process.pid}), fresh for each policy, on 127.0.0.1`,
      loadGenerator:
        plan?.kind === 'closed'
          ? `autocannon, closed loop, ${plan.connections} connections, in a child process per policy (pids ${generatorPids.join(', ')})`
          : `seeded open-loop Poisson generator at ${plan?.kind === 'open' ? plan.rateRps : '?'} req/s (latency from the intended send time), in a child process per policy (pids ${generatorPids.join(', ')})`,
      phases:
        plan?.kind === 'closed'
          ? `per policy: ${warmupMs} ms warm-up, scrape, ${measureMs} ms measured window, scrape; requests in flight when a phase ends are abandoned (the dispatcher counts them as client aborts)`
          : `per policy: ${warmupMs} ms warm-up, drain, scrape, ${measureMs} ms measured window, drain, scrape`,
      node: process.version,
      platform: `${os.platform()} ${os.arch()}`,
      cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown'}`,
    },
    runs,
  };
}
