import os from 'node:os';
import { systemClock } from '../core/clock.js';
import type { DispatcherCpu, PolicyRun, Report } from '../core/report.js';
import { RunAccumulator, timelineBucketMs } from '../core/run-accumulator.js';
import { policyLabel, replicaVms, type PolicySpec, type Scenario } from '../core/scenario.js';
import type { Millis } from '../core/types.js';
import { dispatcherStarter } from '../dispatcher/cluster.js';
import { startUp } from '../dispatcher/local-fleet.js';
import { fleetDelta, scrapeFleet, type FleetScrape } from './fleet-metrics.js';
import type { LoadPlan, LoadTick } from './load-plan.js';
import { LoadAborted, runLoadInChild, type ChildLoadResult } from './loadgen.js';
import { againstSimulation } from '../report/against-sim.js';
import { simulate } from '../sim/simulation.js';

/**
 * `compare`: the policies measured live on the same work. For each policy, in turn: start a fresh
 * fleet (every host of the scenario and the dispatcher, in this process, same scenario, same
 * seed), run the load in a child process (warm-up, drain, measured window, drain), tear the fleet
 * down. The request fields of the report come from the dispatcher's request events, accumulated
 * from the start of the measured window exactly as `simulate` accumulates its own (core/run-accumulator.ts);
 * the VMs' CPU and steal seconds and the sticky ratio from the metrics, scraped at both ends of the
 * window. The load generator re-uses one seed, so every policy gets the same arrivals, classes and sessions.
 * Last, the policies that finished are simulated on the same scenario, window and load, and each
 * live run is set beside its simulation (`againstSim`): every live report says whether the machine
 * was quiet enough for its numbers to measure the policies, whoever built it.
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
  /**
   * Aborting stops the policy being measured (its load generator is killed, its fleet closed) and
   * runs no more: the report then holds the policies that finished and names the others in
   * `interrupted`. Aborted before any policy finished, runCompare rejects with LoadAborted.
   */
  readonly signal?: AbortSignal;
  /** Dispatcher worker processes (`--workers`, docs/dispatcher.md); default 1: the dispatcher runs in this process. */
  readonly workers?: number;
}

/** Generator bounds: at most this many requests outstanding, and how much longer than the dispatcher a request is waited for. */
const MAX_IN_FLIGHT = 1024;
const REQUEST_TIMEOUT_MARGIN_MS = 5_000;

/**
 * How long the generator waits for an answer before it gives up on a request: longer than the
 * dispatcher's total timeout (queueing and retries included), so that a request the dispatcher
 * would end answers 504 and counts against its backend, as in the simulator, which has no client
 * timeout. At the same 30 s as the dispatcher's default, the client's timer, started at the send,
 * ran out first, and the dispatcher saw a client abort (499) that blames no backend.
 */
function generatorTimeoutMs(scenario: Pick<Scenario, 'dispatcher'>): Millis {
  return scenario.dispatcher.timeouts.totalMs + REQUEST_TIMEOUT_MARGIN_MS;
}

/** What the load generator is asked to do for one policy. */
export function loadPlan(opts: CompareOptions, url: string, warmupMs: Millis, measureMs: Millis): LoadPlan {
  const { scenario } = opts;
  const base = { url, seed: scenario.seed, classes: scenario.workload.classes, sessions: scenario.workload.sessions, warmupMs, durationMs: measureMs, timeoutMs: generatorTimeoutMs(scenario) };
  if (opts.rateRps !== undefined && opts.connections !== undefined) throw new Error('compare: give a rate (open loop) or connections (closed loop), not both');
  const arrival = scenario.workload.arrival;
  const connections = opts.connections ?? (opts.rateRps === undefined && 'connections' in arrival ? arrival.connections : undefined);
  if (connections !== undefined) return { ...base, kind: 'closed', connections };
  const rateRps = opts.rateRps ?? ('rateRps' in arrival ? arrival.rateRps : undefined);
  if (rateRps === undefined || !(rateRps > 0)) throw new Error('compare: the open loop needs a rate > 0');
  return { ...base, kind: 'open', rateRps, maxInFlight: MAX_IN_FLIGHT };
}

function policyRun(label: string, scenario: Scenario, windowMs: Millis, events: RunAccumulator, load: ChildLoadResult, before: FleetScrape, after: FleetScrape): PolicyRun {
  const fleet = fleetDelta(scenario, before, after);
  events.dropped(load.codes.dropped ?? 0);
  const fields = events.fields(windowMs);
  const vm = new Map(fleet.vms.map((v) => [v.vm, v]));
  return {
    policy: label,
    ...fields,
    clientLatencyMs: load.latencyMs,
    ...(load.late !== undefined ? { late: load.late, sendLagMs: load.sendLagMs } : {}),
    backends: fields.backends.map((b) => ({ ...b, cpuSeconds: vm.get(b.id)?.cpuSeconds ?? 0, stealSeconds: vm.get(b.id)?.stealSeconds ?? 0 })),
    vms: fleet.vms,
    stickyHitRatio: fleet.stickyHitRatio,
    timerLatenessMs: fleet.timerLatenessMs,
    modelMeanMs: fleet.modelMeanMs,
  };
}

/** CPU used between two readings (at `sinceMs` and now), in seconds and as a share of one core (core/report.ts, DispatcherCpu). */
function cpuShare(since: NodeJS.CpuUsage, now: NodeJS.CpuUsage, sinceMs: Millis): { cpuSeconds: number; coreShare: number } {
  const cpuSeconds = (now.user - since.user + now.system - since.system) / 1e6;
  const wallSeconds = (systemClock.now() - sinceMs) / 1000;
  return { cpuSeconds, coreShare: wallSeconds > 0 ? cpuSeconds / wallSeconds : 0 };
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
  const replicas = replicaVms(scenario).map((vm) => ({ id: vm.name, host: vm.host, kind: vm.kind }));
  let plan: LoadPlan | undefined;
  const generatorPids: number[] = [];
  const dispatcherCpu: Record<string, { cpuSeconds: number; coreShare: number }> = {};
  const workers = opts.workers ?? 1;
  const start = dispatcherStarter(workers);

  for (const [index, spec] of policies.entries()) {
    if (opts.signal?.aborted) break;
    const label = policyLabel(spec);
    const progress = (stage: CompareProgress['stage'], tick?: LoadTick): void =>
      opts.onProgress?.({ policy: label, index, total: policies.length, stage, tick, durationMs: measureMs, warmupMs });
    progress('starting');
    // The run starts when the load does (beforeWarmup): the timeline shows the warm-up too, the
    // counts start with the window, and the models' owners and faults count their times from there,
    // as the simulator counts them from its first arrival.
    const accumulator = new RunAccumulator(replicas, systemClock.now(), timelineBucketMs(warmupMs + measureMs));
    const up = await startUp({ scenario, policy: spec, dispatcher: { events: accumulator }, deferModels: true }, start);
    const dispatcher = up.dispatcher;
    // Workers: their CPU (the dispatcher alone); else this process's (the dispatcher and the hosts).
    const cpuNow = (): Promise<NodeJS.CpuUsage> => ('cpuUsage' in dispatcher ? dispatcher.cpuUsage() : Promise.resolve(process.cpuUsage()));
    try {
      const endpoints = { dispatcherMetricsUrl: `${up.dispatcher.adminUrl}/metrics`, hostMetricsUrls: up.hosts.map((h) => h.metricsUrl) };
      plan = loadPlan(opts, up.dispatcher.url, warmupMs, measureMs);
      let before: FleetScrape | undefined;
      let cpuBefore: { usage: NodeJS.CpuUsage; atMs: Millis } | undefined;
      const load = await runLoadInChild(
        plan,
        {
          onTick: (tick) => progress('load', tick),
          beforeWarmup: async () => {
            accumulator.startRun(systemClock.now());
            up.startModels();
          },
          beforeMeasure: async () => {
            before = await scrapeFleet(endpoints);
            accumulator.startWindow(systemClock.now());
            cpuBefore = { usage: await cpuNow(), atMs: systemClock.now() };
          },
        },
        opts.signal,
      );
      if (cpuBefore !== undefined) dispatcherCpu[label] = cpuShare(cpuBefore.usage, await cpuNow(), cpuBefore.atMs);
      if ('collectEvents' in dispatcher) await dispatcher.collectEvents();
      const after = await scrapeFleet(endpoints);
      if (before === undefined) throw new Error('compare: the load generator never reached the measured window');
      generatorPids.push(load.pid);
      runs.push(policyRun(label, scenario, measureMs, accumulator, load, before, after));
    } catch (err) {
      if (!(err instanceof LoadAborted)) throw err;
    } finally {
      await up.close();
    }
    if (opts.signal?.aborted) break;
    progress('done');
  }
  const notFinished = policies.map(policyLabel).slice(runs.length);
  if (runs.length === 0) throw new LoadAborted(`compare: interrupted before any policy finished (${notFinished.join(', ')} not measured)`);
  // The same scenario, policies, window, load and dispatcher count in virtual time: under a second, so always.
  const arrival = opts.rateRps !== undefined ? { rateRps: opts.rateRps } : opts.connections !== undefined ? { connections: opts.connections } : scenario.workload.arrival;
  const simulated = simulate(
    { ...scenario, workload: { ...scenario.workload, arrival }, warmup: warmupMs },
    // Measured as the live generator measured: the warm-up drained, the window started empty.
    { policies: policies.slice(0, runs.length), durationMs: warmupMs + measureMs, dispatchers: workers, drainAfterWarmup: true },
  );

  return {
    mode: 'live',
    scenario: scenario.name,
    seed: scenario.seed,
    createdAt: new Date().toISOString(),
    command: opts.command,
    environment: {
      systemUnderTest:
        workers > 1
          ? `${scenario.hosts.length} hypervisor host(s) with ${replicas.length} replicas in one process (pid ${process.pid}), the dispatcher in ${workers} worker processes (node:cluster) on a shared port, fresh for each policy, on 127.0.0.1`
          : `dispatcher and ${scenario.hosts.length} hypervisor host(s) with ${replicas.length} replicas, in one process (pid ${process.pid}), fresh for each policy, on 127.0.0.1`,
      proxyEngine: scenario.dispatcher.engine,
      loadGenerator:
        plan?.kind === 'closed'
          ? `autocannon, closed loop, ${plan.connections} connections, in a child process per policy (pids ${generatorPids.join(', ')})`
          : `seeded open-loop Poisson generator at ${plan?.kind === 'open' ? plan.rateRps : '?'} req/s (clientLatencyMs from the intended send time), in a child process per policy (pids ${generatorPids.join(', ')})`,
      phases:
        plan?.kind === 'closed'
          ? `per policy: ${warmupMs} ms warm-up, drain, scrape, ${measureMs} ms measured window, drain, scrape (a connection sends nothing after the answer in flight when a phase ends)`
          : `per policy: ${warmupMs} ms warm-up, drain, scrape, ${measureMs} ms measured window, drain, scrape`,
      dispatcherCpu: {
        process: workers > 1 ? `${workers} dispatcher worker processes, added up (the dispatcher alone)` : `pid ${process.pid}: the dispatcher and the hosts' models (one process)`,
        cores: os.availableParallelism(),
        byPolicy: dispatcherCpu,
      } satisfies DispatcherCpu,
      node: process.version,
      platform: `${os.platform()} ${os.arch()}`,
      cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown'}`,
    },
    runs,
    ...(notFinished.length > 0 ? { interrupted: { notFinished } } : {}),
    againstSim: againstSimulation(runs, simulated),
  };
}
