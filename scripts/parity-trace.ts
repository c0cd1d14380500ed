/**
 * Where a live run and its simulation part ways, request by request (issue 11): one policy of a
 * scenario live for a short window (no warm-up, so arrival i is the simulator's arrival i) and
 * simulated, each request's backend, arrival and latency traced by its index
 * (BalancerObserver.onAttemptEnded, RequestInfo.index), then compared:
 *  - arrival order: how many requests reached the dispatcher after a later-numbered one;
 *  - picks: how many requests went to another backend than in the simulation, and from which
 *    index on they differ;
 *  - arrivals: how far each live arrival is from its planned instant (the generator's lateness);
 *  - latency: live and simulated mean, over the requests both served on the same backend and over all;
 *  - replay: the live requests, with the live picks, run through the model on a VirtualClock at the
 *    instants the replicas submitted them, and at the instants they reached the dispatcher. The
 *    first equals the live model's own account when the model lost no capacity to the machine;
 *    both against the simulation say how far the arrivals the machine delivered (late, bunched
 *    behind event-loop stalls, reordered) moved the result.
 *
 *   npx tsx scripts/parity-trace.ts --scenario scenarios/homogeneous.yaml --policy random --duration 6s [--rate 900] [--warmup 3s]
 *
 * With --warmup, the generator runs its warm-up first (its connections are then open, as in
 * `compare`) and only the measured window is traced; the simulation drains its warm-up as
 * `compare`'s baseline does, so arrival instants are not compared then, only order, picks and latency.
 *
 * Bounded: one window of `--duration` (default 6 s) on 127.0.0.1, then a drain.
 */
import { parseArgs } from 'node:util';
import { systemClock } from '../core/clock.js';
import type { RequestEvents } from '../core/request-events.js';
import { createRng } from '../core/rng.js';
import { parseDuration } from '../core/duration.js';
import { loadScenario } from '../core/scenario.js';
import { startUp } from '../dispatcher/local-fleet.js';
import { createFleet, type JobResult, type RequestCost } from '../backends/hypervisor/index.js';
import { VirtualClock } from '../core/virtual-clock.js';
import { RequestCosts } from '../core/workload.js';
import { runLoadInChild } from '../loadtest/loadgen.js';
import { scrape, sumOf } from '../loadtest/scrape.js';
import { checkPolicySpecs } from '../policies/index.js';
import { simulatePolicy } from '../sim/simulation.js';
import type { RequestInfo } from '../dispatcher/balancer/types.js';

interface Traced {
  backend: string;
  arrivedAtMs: number;
  latencyMs: number;
}

const { values } = parseArgs({ options: { scenario: { type: 'string' }, policy: { type: 'string' }, duration: { type: 'string', default: '6s' }, warmup: { type: 'string', default: '0s' }, rate: { type: 'string' } } });
if (values.scenario === undefined || values.policy === undefined) throw new Error('usage: --scenario FILE --policy NAME [--duration 6s] [--rate RPS]');
const loaded = loadScenario(values.scenario, checkPolicySpecs);
const durationMs = parseDuration(values.duration) ?? 6000;
const warmupMs = parseDuration(values.warmup) ?? 0;
const arrival = values.rate !== undefined ? { rateRps: Number(values.rate) } : loaded.workload.arrival;
if (!('rateRps' in arrival)) throw new Error('parity-trace: an open-loop scenario (arrival.rateRps) or --rate');
const scenario = { ...loaded, warmup: warmupMs, workload: { ...loaded.workload, arrival } };
const policy = values.policy;

// Live: the attempt that ends is named by its index; the answer that follows it (synchronously,
// http-dispatcher.ts) carries its arrival and latency.
const live = new Map<number, Traced>();
const codes = new Map<string, number>();
let lastIndex: number | undefined;
let lastBackend = '';
let measuring = warmupMs === 0;
const events: RequestEvents = {
  arrived() {},
  admitted() {},
  attemptEnded() {},
  answered(arrivedAtMs, backend, code, latencyMs) {
    codes.set(code, (codes.get(code) ?? 0) + 1);
    if (measuring && lastIndex !== undefined && backend === lastBackend && code === '200') live.set(lastIndex, { backend, arrivedAtMs, latencyMs });
    lastIndex = undefined;
  },
};
const up = await startUp({
  scenario,
  policy,
  dispatcher: {
    events,
    onAttemptEnded: (info, backend) => {
      lastIndex = info.index;
      lastBackend = backend;
    },
  },
});
// What each host's model was given and made of it, in model time: wrapped on the model object,
// where the replicas' ports submit (backends/hypervisor/host.ts, submitTo).
interface Submitted {
  vm: string;
  cost: RequestCost;
  submittedAt: number;
  finishedAt: number;
}
const submitted: Submitted[] = [];
for (const model of up.models) {
  const target = model as unknown as { submitTo(vm: { name: string }, cost: RequestCost, onDone: (r: JobResult) => void): unknown };
  const submitTo = target.submitTo.bind(target);
  target.submitTo = (vm, cost, onDone) =>
    submitTo(vm, cost, (result) => {
      if (result.ok) submitted.push({ vm: vm.name, cost, submittedAt: result.timing.submittedAt, finishedAt: result.timing.finishedAt });
      onDone(result);
    });
}
const startedAtMs = systemClock.now();
const { ejections, lateMs } = await (async () => {
  try {
    const plan = {
      kind: 'open',
      url: up.dispatcher.url,
      seed: scenario.seed,
      classes: scenario.workload.classes,
      sessions: scenario.workload.sessions,
      warmupMs,
      durationMs,
      timeoutMs: 30_000,
      rateRps: arrival.rateRps,
      maxInFlight: 1024,
    } as const;
    await runLoadInChild(plan, {
      beforeMeasure: () => {
        measuring = true;
        submitted.length = 0;
        return Promise.resolve();
      },
    });
    // Whether the dispatcher took a replica out (the simulator's probes never fail), and the hosts' lateness.
    const hostSamples = (await Promise.all(up.hosts.map((h) => scrape(h.metricsUrl)))).flat();
    const dispatcherSamples = await scrape(`${up.dispatcher.adminUrl}/metrics`);
    const perCount = (name: string): number => (1000 * sumOf(hostSamples, `${name}_sum`)) / sumOf(hostSamples, `${name}_count`);
    return {
      ejections: sumOf(dispatcherSamples, 'dispatchlab_ejections_total'),
      lateMs: perCount('dispatchlab_host_timer_lateness_seconds'),
    };
  } finally {
    await up.close();
  }
})();

// Simulated: the same scenario, policy and window; the arrival instants are the seed's
// 'arrivals' stream, as the driver and the generator draw them.
const sim = new Map<number, Traced>();
const gaps = createRng(scenario.seed).stream('arrivals');
const plannedMs: number[] = [];
let clockNow = (): number => 0;
simulatePolicy(scenario, policy, {
  durationMs: warmupMs + durationMs,
  // As compare's simulated baseline: the warm-up's last arrival is not sent and the window starts
  // drained, as the live generator runs it; otherwise a session whose first request is that
  // arrival would be placed in the warm-up here and only in the window live.
  drainAfterWarmup: warmupMs > 0,
  atStart: (_fleet, clock) => (clockNow = () => clock.now()),
  onAttemptEnded: (info, backend) => {
    const i = info.index as number;
    while (plannedMs.length <= i) plannedMs.push((plannedMs.at(-1) ?? 0) + gaps.exponential(1000 / arrival.rateRps));
    // After a drained warm-up the window's instants are shifted from the plan; the simulator's
    // request object (which is the RequestInfo it hands the Balancer) knows when it arrived.
    const arrivedAtMs = warmupMs > 0 ? (info as RequestInfo & { arrivedAt: number }).arrivedAt : plannedMs[i];
    sim.set(i, { backend, arrivedAtMs, latencyMs: clockNow() - arrivedAtMs });
  },
});

const mean = (xs: number[]): number => (xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length);

/** The model alone, on a VirtualClock, given these requests at these instants: its mean time per request. */
function replay(requests: ReadonlyArray<{ atMs: number; vm: string; cost: RequestCost }>): number {
  const clock = new VirtualClock();
  const fleet = createFleet(scenario, { clock });
  fleet.start();
  const ordered = [...requests].sort((a, b) => a.atMs - b.atMs);
  const t0 = ordered[0]?.atMs ?? 0;
  let total = 0;
  let done = 0;
  for (const r of ordered) {
    clock.runUntil(r.atMs - t0);
    const submittedAt = clock.now();
    fleet.hostOf(r.vm).submit(r.vm, r.cost, (result) => {
      if (!result.ok) return;
      total += clock.now() - submittedAt;
      done++;
    });
  }
  clock.runUntilIdle();
  fleet.stop();
  return total / done;
}
// At the dispatcher's arrival instants (single-class scenarios: the class of request i is then
// known without the planner), and at the instants the replicas submitted them to the model.
const costs = new RequestCosts(scenario.seed);
const cls = scenario.workload.classes[0];
const atDispatcherMs =
  scenario.workload.classes.length === 1 ? replay([...live.entries()].map(([i, t]) => ({ atMs: t.arrivedAtMs, vm: t.backend, cost: costs.of(cls, i) }))) : Number.NaN;
const atModelMs = replay(submitted.map((r) => ({ atMs: r.submittedAt, vm: r.vm, cost: r.cost })));
const liveModelMs = mean(submitted.map((r) => r.finishedAt - r.submittedAt));

const indices = [...live.keys()].filter((i) => sim.has(i)).sort((a, b) => a - b);
const byArrival = [...live.entries()].sort((a, b) => a[1].arrivedAtMs - b[1].arrivedAtMs).map(([i]) => i);
let reordered = 0;
let highest = -1;
for (const i of byArrival) {
  if (i < highest) reordered++;
  highest = Math.max(highest, i);
}
const differ = indices.filter((i) => live.get(i)?.backend !== sim.get(i)?.backend);
const lateness = indices.map((i) => (live.get(i) as Traced).arrivedAtMs - startedAtMs - (sim.get(i) as Traced).arrivedAtMs);
const offset = Math.min(...lateness);
const same = indices.filter((i) => live.get(i)?.backend === sim.get(i)?.backend);
const lat = (m: Map<number, Traced>, is: number[]): number => mean(is.map((i) => (m.get(i) as Traced).latencyMs));
const f = (x: number): string => x.toFixed(2);
function shares(m: Map<number, Traced>): string {
  const counts = new Map<string, number>();
  for (const i of indices) counts.set((m.get(i) as Traced).backend, (counts.get((m.get(i) as Traced).backend) ?? 0) + 1);
  return [...counts.entries()].sort().map(([b, n]) => `${b} ${((100 * n) / indices.length).toFixed(0)}%`).join(' ');
}
process.stdout.write(
  [
    `${scenario.name}, ${policy}, ${durationMs} ms${warmupMs > 0 ? ` after ${warmupMs} ms of warm-up` : ''} at ${arrival.rateRps} req/s: ${live.size} live answers traced, ${sim.size} simulated, ${indices.length} in both`,
    `arrival order: ${reordered} requests reached the dispatcher after a later-numbered one`,
    `picks: ${differ.length} of ${indices.length} on another backend than simulated${differ.length > 0 ? `, the first at index ${differ[0]}` : ''}`,
    warmupMs > 0 ? 'arrivals: not compared after a warm-up' : `arrivals: live behind plan by ${f(mean(lateness) - offset)} ms on average (p99 ${f([...lateness].sort((a, b) => a - b)[Math.floor(0.99 * lateness.length)] - offset)} ms), relative to the earliest`,
    `latency, all ${indices.length}: live ${f(lat(live, indices))} ms, simulated ${f(lat(sim, indices))} ms`,
    `in the model, live: ${f(liveModelMs)} ms over ${submitted.length} requests; replayed on a VirtualClock at the instants the replicas submitted them: ${f(atModelMs)} ms; at the instants they reached the dispatcher: ${f(atDispatcherMs)} ms`,
    `live: answers ${[...codes.entries()].map(([c, n]) => `${c}: ${n}`).join(', ')}; ${ejections} ejections; hosts' timer lateness ${f(lateMs)} ms on average`,
    `share per backend, live: ${shares(live)}; simulated: ${shares(sim)}`,
    `latency, the ${same.length} on the same backend: live ${f(lat(live, same))} ms, simulated ${f(lat(sim, same))} ms`,
    '',
  ].join('\n'),
);
