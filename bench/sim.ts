import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { datacentreScenario, type DatacentreOptions } from './datacentre-fleet.js';
import { replaceSection } from './markdown-section.js';

/**
 * `npm run bench:sim`: how fast the simulator runs, in simulated requests per second of wall time,
 * beside a ceiling measured in the same run: a bare VirtualClock doing the same number of events
 * (what the simulation would cost if the Balancer, the policy, the hypervisor model and the
 * bookkeeping were free). Every point runs in a fresh child process, so its peak RSS is its own.
 * It runs the built code (dist/, `npm run build` first), as users do: tsx's transform adds a
 * helper call to every closure it creates, which the numbers would then include.
 *
 * Points: 100 replicas (25 hosts x 4 one-vCPU VMs) with round-robin and power-of-two, median of
 * three runs of 5M requests and of three of 1M, in a cold process and in a warm one (which ran
 * 100,000 requests first, as `simulate` has from its second policy on); scaling with VMs (100,
 * 1,000, 10,000) and requests (100k, 1M, 5M, 10M); the 10,000-VM, 10-million-request run. Every
 * rate is end to end: the wall time of a whole runPolicy call (building the fleet, the run, the
 * report; in a cold process also V8 compiling and optimising the hot code while it runs), so a
 * short run pays its fixed start-up cost (about 0.15 s cold) out of fewer requests. Load is
 * open-loop Poisson at utilisation 0.7 with exponential 10 ms service. Writes the "Simulator
 * speed" section of BENCHMARKS.md. About 11 minutes here.
 *
 * Beside it, a generated data-centre fleet (datacentre-fleet.ts: 16-core hosts of ~20 VMs of four
 * virtualization techniques, a third of them Type 2 hosts with host load, an exponential and a
 * heavy-tailed class, 100,000 sessions; power-of-two): how time per request grows with VMs per
 * host, classes, sessions and utilisation (busier hosts are contended more often), and with VMs per
 * host again at utilisation 0.85 (1,000 VMs, 1M requests, one factor changed at a time from that
 * fleet), 10,000 VMs x 10M requests, beside a bare VirtualClock running its events (its same-run
 * baseline), and every policy on 10,000 VMs of that fleet against power-of-two. The two tables of
 * ratios run in rounds, every row once per round in a fresh process, and compare CPU time within a
 * round: a shared machine's other jobs slow a run's wall clock by tens of percent from one minute to
 * the next, and rows run minutes apart once gave a 1.43x that reruns did not repeat.
 *
 * The homogeneous fleet's children run with a 64 MB young generation (V8's --max-semi-space-size,
 * default 16 MB): at 10,000 VMs some 11,000 requests are in flight, their objects outlive two
 * default-size scavenges and get promoted, and the old generation fills with them; a larger young
 * generation lets them die young. At 100 VMs it makes no difference. The data-centre fleet's run
 * with V8's default: at 10,000 VMs and 10M requests the 64 MB one took the same CPU time per
 * request (10.0 against 10.1 µs) for 55 MB more peak RSS (378 against 323 MB; BENCHMARKS.md,
 * "Data-centre fleet, third round"). `NODE_OPTIONS=--max-semi-space-size=64` does the same for
 * `dispatchlab simulate` on large fleets of the homogeneous kind.
 */
const NODE_FLAGS = ['--max-semi-space-size=64'];
/** None: V8's default young generation (see above). */
const DATACENTRE_NODE_FLAGS: readonly string[] = [];

interface PointResult {
  readonly policy: string;
  readonly vms: number;
  readonly requests: number;
  readonly wallMs: number;
  /** The process's CPU time (user + system, all its threads) over the same run. */
  readonly cpuMs: number;
  readonly events: number;
  readonly simulatedMs: number;
  readonly maxRssMb: number;
  readonly meanLatencyMs: number;
}

const dist = new URL('../dist/', import.meta.url);
const self = fileURLToPath(import.meta.url);

/** One measured run; with `warmRequests` > 0 the process first runs that many (not measured), as `simulate` does before its second policy. */
async function runPoint(policy: string, vms: number, requests: number, warmRequests: number): Promise<PointResult> {
  const { parseScenario } = (await import(new URL('core/scenario.js', dist).href)) as typeof import('../core/scenario.js');
  const { runPolicy } = (await import(new URL('sim/simulation.js', dist).href)) as typeof import('../sim/simulation.js');
  const perHost = 4;
  const hosts = Math.ceil(vms / perHost);
  const scenario = parseScenario({
    name: `bench-${vms}`,
    seed: 1,
    hosts: Array.from({ length: hosts }, (_, i) => ({ name: `h${i}`, cores: perHost, memoryMb: 65536 })),
    vms: Array.from({ length: hosts }, (_, i) => ({ name: `web-h${i}`, count: perHost, host: `h${i}`, vcpus: 1, memoryMb: 1024, virtualization: 'container' })),
    costModel: { techniques: { container: { cpuFactor: 1, ioOpUs: 0 } } },
    workload: { classes: [{ name: 'page', share: 1, cpuMs: 10, service: 'exponential' }], sessions: 0, arrival: { rateRps: 0.7 * vms * 100 } },
    policies: [policy],
    duration: '1h',
    // No warmup: every simulated request counts, and at 10,000 VMs a 1 s warmup alone is 700,000 requests.
    warmup: 0,
  });
  if (warmRequests > 0) runPolicy(scenario, policy, { requests: warmRequests });
  return measuredRun(runPolicy, scenario, policy, vms, requests);
}

/** Run `requests` of `policy` on `scenario`, timed, with the process's peak RSS so far. */
function measuredRun(
  runPolicy: typeof import('../sim/simulation.js').runPolicy,
  scenario: import('../core/scenario.js').Scenario,
  policy: string,
  vms: number,
  requests: number,
): PointResult {
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const result = runPolicy(scenario, policy, { requests });
  const cpu = process.cpuUsage(cpuBefore);
  const wallMs = performance.now() - started;
  return {
    policy,
    vms,
    requests: result.run.requests,
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    events: result.events,
    simulatedMs: result.simulatedMs,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    meanLatencyMs: result.run.latencyMs.mean,
  };
}

/** One measured run on a generated data-centre fleet (datacentre-fleet.ts), power-of-two unless `opts.policy`, in a cold process. */
async function runDatacentrePoint(opts: DatacentreOptions, requests: number): Promise<PointResult> {
  const { runPolicy } = (await import(new URL('sim/simulation.js', dist).href)) as typeof import('../sim/simulation.js');
  return measuredRun(runPolicy, datacentreScenario(opts), opts.policy ?? 'power-of-two', opts.vms, requests);
}

/** The ceiling: `events` bare VirtualClock events, `pendingTimers` in flight at a time, exponential gaps. */
async function runCeiling(events: number, pendingTimers: number): Promise<{ wallMs: number; events: number }> {
  const { VirtualClock } = (await import(new URL('core/virtual-clock.js', dist).href)) as typeof import('../core/virtual-clock.js');
  const { createRng } = (await import(new URL('core/rng.js', dist).href)) as typeof import('../core/rng.js');
  const clock = new VirtualClock();
  const rng = createRng(1);
  let left = events;
  const tick = (): void => {
    if (--left > 0) clock.schedule(rng.exponential(10), tick);
  };
  for (let i = 0; i < pendingTimers; i++) clock.schedule(rng.exponential(10), tick);
  const started = performance.now();
  clock.runUntilIdle();
  return { wallMs: performance.now() - started, events: clock.eventsRun };
}

function inChild<T>(args: string[], nodeFlags: readonly string[] = NODE_FLAGS): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = fork(self, args, { execArgv: ['--import', 'tsx', ...nodeFlags], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('message', (msg) => resolve(msg as T));
    child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`bench child ${args.join(' ')} exited with ${code}`))));
  });
}

const point = (policy: string, vms: number, requests: number, warmRequests = 0): Promise<PointResult> =>
  inChild(['point', policy, String(vms), String(requests), String(warmRequests)]);
const datacentrePoint = (opts: DatacentreOptions, requests: number): Promise<PointResult> => inChild(['datacentre', JSON.stringify(opts), String(requests)], DATACENTRE_NODE_FLAGS);

/** The data-centre fleet the growth table starts from, and what it changes one at a time. */
const DC_BASE = { vms: 1_000, vmsPerHost: 20, classes: 2, sessions: 100_000 } as const;
const DC_VARIANTS: ReadonlyArray<{ factor: string; value: string; opts: DatacentreOptions }> = [
  ...[4, 10, 20, 40].map((vmsPerHost) => ({ factor: 'VMs per host', value: String(vmsPerHost), opts: { ...DC_BASE, vmsPerHost } })),
  { factor: 'request classes', value: '1 (exponential)', opts: { ...DC_BASE, classes: 1 } },
  ...[0, 1_000].map((sessions) => ({ factor: 'sessions', value: sessions.toLocaleString('en-US'), opts: { ...DC_BASE, sessions } })),
  // Busier hosts are contended more often, where an event may re-divide the cores over every VM of
  // the host: there time per request still grows with VMs per host (BENCHMARKS.md, ninth round).
  { factor: 'utilisation', value: '0.85', opts: { ...DC_BASE, utilisation: 0.85 } },
  ...[4, 40].map((vmsPerHost) => ({ factor: 'VMs per host, utilisation 0.85', value: String(vmsPerHost), opts: { ...DC_BASE, vmsPerHost, utilisation: 0.85 } })),
];
const DC_GROWTH_REQUESTS = 1_000_000;
/**
 * Every policy on the 10,000-VM data-centre fleet, against power-of-two in the same run: a policy
 * that looks at every backend on each pick is a hundred times slower there (BENCHMARKS.md, tenth
 * and eleventh rounds), which the power-of-two points alone would never show.
 */
const DC_POLICY_FLEET = { ...DC_BASE, vms: 10_000 } as const;
const DC_POLICY_REQUESTS = 200_000;
/** Rounds of the data-centre tables (every row once per round). */
const ROUNDS = 5;
/** Requests a warm process has run before the measured run. */
const WARM_REQUESTS = 100_000;
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const rate = (p: { requests: number; wallMs: number }): number => (p.requests * 1000) / p.wallMs;
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  if (!existsSync(new URL('sim/simulation.js', dist))) throw new Error('dist/ is missing: run `npm run build` first (npm run bench:sim does)');
  const loadBefore = os.loadavg()[0];
  const started = performance.now();
  const log = (text: string): void => void process.stderr.write(`bench:sim: ${text}\n`);

  interface Headline {
    policy: string;
    long: PointResult[];
    cold: PointResult[];
    warm: PointResult[];
    ceiling: Array<{ wallMs: number; events: number }>;
  }
  const headline: Headline[] = [];
  for (const policy of ['round-robin', 'power-of-two']) {
    const h: Headline = { policy, long: [], cold: [], warm: [], ceiling: [] };
    for (let i = 0; i < 3; i++) {
      const r = await point(policy, 100, 5_000_000);
      h.long.push(r);
      h.ceiling.push(await inChild(['ceiling', String(r.events), '26']));
      h.cold.push(await point(policy, 100, 1_000_000));
      h.warm.push(await point(policy, 100, 1_000_000, WARM_REQUESTS));
      log(`${policy} 100 VMs: 5M ${fmt(rate(r))}, 1M cold ${fmt(rate(h.cold[i]))}, 1M warm ${fmt(rate(h.warm[i]))} req/s`);
    }
    headline.push(h);
  }

  const scaling: PointResult[] = [];
  for (const [vms, requests] of [
    [100, 100_000],
    [1_000, 1_000_000],
    [10_000, 1_000_000],
    [10_000, 10_000_000],
  ]) {
    const r = await point('power-of-two', vms, requests);
    scaling.push(r);
    log(`power-of-two ${vms} VMs ${requests}: ${(r.wallMs / 1000).toFixed(1)} s, ${fmt(r.maxRssMb)} MB`);
  }
  // In rounds, every variant once per round, so each ratio compares runs minutes apart at most.
  const growth = DC_VARIANTS.map((v) => ({ ...v, runs: [] as PointResult[] }));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const g of growth) {
      const r = await datacentrePoint(g.opts, DC_GROWTH_REQUESTS);
      g.runs.push(r);
      log(`data-centre round ${round}/${ROUNDS}, ${g.factor} ${g.value}: ${(r.wallMs / 1000).toFixed(2)} s per 1M`);
    }
  }
  const { policyNames } = (await import(new URL('policies/index.js', dist).href)) as typeof import('../policies/index.js');
  const byPolicy = policyNames().map((policy) => ({ policy, runs: [] as PointResult[] }));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const p of byPolicy) {
      const r = await datacentrePoint({ ...DC_POLICY_FLEET, policy: p.policy }, DC_POLICY_REQUESTS);
      p.runs.push(r);
      log(`data-centre 10,000 VMs round ${round}/${ROUNDS}, ${p.policy}: ${(r.wallMs / 1000).toFixed(1)} s per ${fmt(DC_POLICY_REQUESTS)}`);
    }
  }
  const dcBigFleet = { ...DC_BASE, vms: 10_000 };
  const dcBig = await datacentrePoint(dcBigFleet, 10_000_000);
  // The same-run baseline for this point: how fast the machine ran a bare VirtualClock right after
  // it, with the events the run had and one timer in flight per host (as a host keeps one).
  const dcBigHosts = Math.ceil(dcBigFleet.vms / dcBigFleet.vmsPerHost);
  const dcBigCeiling = await inChild<{ wallMs: number; events: number }>(['ceiling', String(dcBig.events), String(dcBigHosts)]);
  log(`data-centre 10,000 VMs 10M: ${(dcBig.wallMs / 1000).toFixed(1)} s, ${fmt(dcBig.maxRssMb)} MB; the bare clock's same events ${(dcBigCeiling.wallMs / 1000).toFixed(1)} s`);
  // Seeded: every round of a row computes the same run, or the rows would not be comparable.
  for (const [row, runs] of [...growth.map((g) => [`${g.factor} ${g.value}`, g.runs] as const), ...byPolicy.map((p) => [p.policy, p.runs] as const)]) {
    if (new Set(runs.map((r) => r.meanLatencyMs)).size !== 1) throw new Error(`bench:sim: the rounds of the data-centre row "${row}" gave different mean latencies`);
  }
  const usPerRequest = (runs: readonly PointResult[]): number => median(runs.map((r) => (1000 * r.wallMs) / r.requests));
  /** The median over rounds of each round's CPU time per request against the baseline's in that round. */
  const cpuRatio = (runs: readonly PointResult[], baseline: readonly PointResult[]): number =>
    median(runs.map((r, i) => r.cpuMs / r.requests / (baseline[i].cpuMs / baseline[i].requests)));
  const growthBase = growth.find((g) => g.factor === 'VMs per host' && g.value === String(DC_BASE.vmsPerHost))?.runs ?? [];
  const powerOfTwo = byPolicy.find((p) => p.policy === 'power-of-two')?.runs ?? [];

  const medianRun = (runs: readonly PointResult[]): PointResult => runs.slice().sort((a, b) => rate(a) - rate(b))[runs.length >> 1];
  const rows = [medianRun(headline[1].cold), medianRun(headline[1].long), ...scaling].sort((a, b) => a.vms - b.vms || a.requests - b.requests);
  const big = scaling[scaling.length - 1];

  const section = [
    '## Simulator speed',
    '',
    `Command: \`npm run bench:sim\` (bench/sim.ts, on the built dist/). ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim()}), Node ${process.version}.`,
    `Load average (1 min) when the run started: ${loadBefore.toFixed(1)} (the machine is shared; read the ratios). Total bench time ${((performance.now() - started) / 1000).toFixed(0)} s.`,
    `Open-loop Poisson arrivals at utilisation 0.7, exponential 10 ms service, 1-vCPU container VMs, 4 per host; every point in a fresh process (node ${NODE_FLAGS.join(' ')}).`,
    'Every rate is end to end: simulated requests over the wall time of a whole run (building the fleet, the run, the report).',
    `A cold process also compiles and optimises the code while it runs (V8 start-up); a warm one has run ${fmt(WARM_REQUESTS)} requests first, as \`simulate\` has from its second policy on.`,
    '',
    '| policy, 100 VMs | simulated req/s, 5M requests, cold (median of 3) | 1M requests, cold (median of 3) | 1M requests, warm (median of 3) | events per request | ceiling: bare VirtualClock, same events (req/s) | share of the ceiling (5M) |',
    '|---|---|---|---|---|---|---|',
    ...headline.map(({ policy, long, cold, warm, ceiling }) => {
      const r = median(long.map(rate));
      const eventsPerRequest = long[0].events / long[0].requests;
      const ceil = median(ceiling.map((c) => (c.events * 1000) / c.wallMs)) / eventsPerRequest;
      return `| ${policy} | ${fmt(r)} | ${fmt(median(cold.map(rate)))} | ${fmt(median(warm.map(rate)))} | ${eventsPerRequest.toFixed(2)} | ${fmt(ceil)} | ${((100 * r) / ceil).toFixed(0)}% |`;
    }),
    '',
    'Scaling (power-of-two):',
    '',
    '| VMs | requests | wall s | simulated req/s | simulated s | peak RSS MB |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${fmt(r.vms)} | ${fmt(r.requests)} | ${(r.wallMs / 1000).toFixed(2)} | ${fmt(rate(r))} | ${(r.simulatedMs / 1000).toFixed(1)} | ${fmt(r.maxRssMb)} |`),
    '',
    `The 10,000-VM, 10-million-request run: ${(big.wallMs / 1000).toFixed(1)} s of wall time, peak RSS ${fmt(big.maxRssMb)} MB.`,
    '',
    'Data-centre fleet (bench/datacentre-fleet.ts, generated): 16-core hosts, every third a Type 2 host with 2 cores of host load; per host',
    'hardware-assisted (2 vCPUs), para-virtual, container and binary-translation (2 vCPUs) VMs in turn; an exponential class (5 ms) and a',
    "lognormal one (20 ms, sigma 1.5, 20% of requests); Poisson arrivals at 0.6 of the cores (unless the table says otherwise); power-of-two; V8's default young generation. Growth of time per request,",
    `one factor changed at a time from ${fmt(DC_BASE.vms)} VMs, ${DC_BASE.vmsPerHost} per host, ${DC_BASE.classes} classes, ${fmt(DC_BASE.sessions)} sessions; ${fmt(DC_GROWTH_REQUESTS)} requests, cold.`,
    `${ROUNDS} rounds, each running every row once in a fresh process; the ratio is CPU time per request against the first row's in the same round (median of the rounds), which other jobs on a shared machine move less than wall time:`,
    '',
    `| factor | value | µs per request (wall, median) | CPU time against ${DC_BASE.vmsPerHost} VMs per host, ${DC_BASE.classes} classes, ${fmt(DC_BASE.sessions)} sessions | peak RSS MB |`,
    '|---|---|---|---|---|',
    ...growth.map(
      (g) =>
        `| ${g.factor} | ${g.value} | ${usPerRequest(g.runs).toFixed(2)} | ${cpuRatio(g.runs, growthBase).toFixed(2)}x | ${fmt(median(g.runs.map((r) => r.maxRssMb)))} |`,
    ),
    '',
    `The data-centre fleet at 10,000 VMs (${fmt(dcBigHosts)} hosts), 10 million requests: ${(dcBig.wallMs / 1000).toFixed(1)} s of wall time (${fmt(rate(dcBig))} simulated req/s, ${(dcBig.simulatedMs / 1000).toFixed(1)} simulated s), peak RSS ${fmt(dcBig.maxRssMb)} MB.`,
    `Beside it, right after it: a bare VirtualClock ran the same ${fmt(dcBigCeiling.events)} events, ${fmt(dcBigHosts)} timers in flight, in ${(dcBigCeiling.wallMs / 1000).toFixed(1)} s; the run took ${(dcBig.wallMs / dcBigCeiling.wallMs).toFixed(1)}x the bare clock's time. On a shared machine compare that ratio across runs, not the wall time.`,
    '',
    `Every policy, with its default options, on that fleet at 10,000 VMs: ${fmt(DC_POLICY_REQUESTS)} requests in a cold process each (building the fleet included), ${ROUNDS} rounds of every policy; CPU time against power-of-two's in the same round, median of the rounds:`,
    '',
    '| policy | wall s (median) | µs per request (wall) | CPU time against power-of-two | mean latency ms |',
    '|---|---|---|---|---|',
    ...byPolicy.map(({ policy, runs }) => {
      const wallMs = median(runs.map((r) => r.wallMs));
      return `| ${policy} | ${(wallMs / 1000).toFixed(2)} | ${((1000 * wallMs) / runs[0].requests).toFixed(1)} | ${cpuRatio(runs, powerOfTwo).toFixed(2)}x | ${runs[0].meanLatencyMs.toFixed(2)} |`;
    }),
    '',
  ].join('\n');
  replaceSection(fileURLToPath(new URL('../BENCHMARKS.md', import.meta.url)), 'Simulator speed', section);
  process.stdout.write(`${section}\n`);
}

async function child(args: string[]): Promise<void> {
  const [kind, ...rest] = args;
  const result =
    kind === 'ceiling'
      ? await runCeiling(Number(rest[0]), Number(rest[1]))
      : kind === 'datacentre'
        ? await runDatacentrePoint(JSON.parse(rest[0]) as DatacentreOptions, Number(rest[1]))
        : await runPoint(rest[0], Number(rest[1]), Number(rest[2]), Number(rest[3]));
  process.send?.(result, () => process.exit(0));
}

const task = ['point', 'ceiling', 'datacentre'].includes(process.argv[2]) ? child(process.argv.slice(2)) : main();
void task.catch((err: unknown) => {
  process.stderr.write(`bench:sim: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
