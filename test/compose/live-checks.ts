import { appendFileSync } from 'node:fs';
import { expandVms, loadScenario, policyName, replicaVms, type Scenario } from '../../core/scenario.js';
import { simulatePolicy } from '../../sim/simulation.js';
import {
  composeFlag,
  DASHBOARD_FILE,
  dashboardQueries,
  PROMETHEUS_FILE,
  readCompose,
  readJson,
  readYaml,
  recordingRules,
  type Dashboard,
  type NamedQuery,
  type PrometheusConfig,
} from './deploy-files.js';

/**
 * The live half of test/compose/run.sh, against the compose demo it brought up. Every check is on
 * values, not on presence: a series that is NaN, 0 where the scenario says otherwise, or missing a
 * host, VM or replica fails.
 *  - stack: Prometheus scrapes every target; the dispatcher answers on its published port; the load
 *    generator sends the demo's rate and the dispatcher counts within 20% of it; CPU and steal per
 *    VM agree with the scenario (no steal where the vCPUs fit the cores, a neighbour's steal on the
 *    contended host); nothing queues, so queue wait and length are exactly 0; after a policy switch
 *    each host's share of the traffic moves the way `simulate` predicts for the same scenario and
 *    rate; every recording rule and dashboard query has a number for every host, VM and replica.
 *  - dispatchers K: K dispatchers on the fleet (extra-dispatcher scaled to K-1): Prometheus finds
 *    each, the load generator spreads over all of them, each one gets its part and reaches every
 *    replica.
 *  - owner FILE: host(s) restarted on a scenario whose owner comes back (owner-scenario.ts): the
 *    harvested replicas are suspended, the dispatcher routes around them and keeps answering, and
 *    takes them back when the owner leaves (new sessions reach them).
 * Usage: live-checks.ts stack RESULTS | dispatchers RESULTS K | owner RESULTS OWNER_SCENARIO.
 * Appends `pass NAME` / `fail NAME` lines for run.sh to count, prints each with the reason of a
 * failure, and never throws past a single check.
 *
 * Endpoints are the ports docker-compose.yml publishes on 127.0.0.1 unless DISPATCHLAB_PROMETHEUS_URL,
 * DISPATCHLAB_DISPATCHER_URL or DISPATCHLAB_ADMIN_URL say otherwise; the admin token comes from
 * DISPATCHLAB_ADMIN_TOKEN, which run.sh also hands to compose; the load is the compose file's
 * default (what a user who sets nothing gets).
 */

// The ports docker-compose.yml publishes; on several machines (docs/compose.md) point them elsewhere.
const PROMETHEUS_URL = process.env.DISPATCHLAB_PROMETHEUS_URL ?? 'http://127.0.0.1:9090';
const DISPATCHER_URL = process.env.DISPATCHLAB_DISPATCHER_URL ?? 'http://127.0.0.1:8080';
const ADMIN_URL = process.env.DISPATCHLAB_ADMIN_URL ?? 'http://127.0.0.1:9901';
const SCENARIO_FILE = 'scenarios/default.yaml';
/** Scrapes every 5 s and 1m rates: a change shows within ~15 s; allow a slow shared machine more (run.sh --sabotage, whose checks are meant to fail, sets less). */
const WAIT_MS = Number(process.env.LIVE_CHECKS_WAIT_MS ?? 90_000);
const POLL_MS = 2000;

interface Series {
  metric: Record<string, string>;
  value: [number, string];
}

const [mode, resultsFile, modeArg] = process.argv.slice(2);
if (!resultsFile || !(mode === 'stack' || ((mode === 'owner' || mode === 'dispatchers') && modeArg))) {
  process.stderr.write('usage: live-checks.ts stack RESULTS | dispatchers RESULTS K | owner RESULTS OWNER_SCENARIO\n');
  process.exit(2);
}
const startedMs = Date.now();
const compose = readCompose().services;
/** The load generator's rate when nobody sets DISPATCHLAB_LOAD_RPS. */
const LOAD_RPS = Number(composeFlag(compose, 'loadgen', '--rate'));
/** How far the dispatchers' count may be from what the load generator sent (the issue's 20%). */
const RATE_TOLERANCE = 0.2;
/** How long the switched-to policy runs before its share per host is read: ~10,000 requests at 300/s. */
const SHARE_PERIOD_MS = 35_000;
/** Steal below this many cores is rounding, not steal. */
const NO_STEAL_CORES = 1e-6;

function record(name: string, failure: string | undefined): void {
  appendFileSync(resultsFile, `${failure === undefined ? 'pass' : 'fail'} ${name}\n`);
  process.stdout.write(failure === undefined ? `  ok   ${name}\n` : `  FAIL ${name}\n       ${failure.replace(/\n/g, '\n       ')}\n`);
}

/** Runs one check: it passes when `body` returns, fails with the message it throws. */
async function check(name: string, body: () => Promise<void>): Promise<boolean> {
  try {
    await body();
    record(name, undefined);
    return true;
  } catch (err) {
    record(name, err instanceof Error ? err.message : String(err));
    return false;
  }
}

/** Polls `attempt` until it returns without throwing, or rethrows its last error after `timeoutMs`. */
async function eventually<T>(attempt: () => Promise<T>, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as T & { status?: string; error?: string };
  if (!res.ok || body.status === 'error') throw new Error(`GET ${url}: ${res.status} ${body.error ?? ''}`);
  return body;
}

/** An instant query; Prometheus answers 400 with the parser's message on bad PromQL. */
async function query(expr: string): Promise<Series[]> {
  const body = await getJson<{ data: { resultType: string; result: Series[] } }>(
    `${PROMETHEUS_URL}/api/v1/query?query=${encodeURIComponent(expr)}`,
  );
  if (body.data.resultType !== 'vector') throw new Error(`${expr}: expected a vector, got ${body.data.resultType}`);
  return body.data.result;
}

async function nonEmpty(expr: string): Promise<Series[]> {
  const result = await query(expr);
  if (result.length === 0) throw new Error(`no series for: ${expr}`);
  return result;
}

/** A scalar query's value, or NaN when it has no series. */
async function scalar(expr: string): Promise<number> {
  const result = await query(expr);
  return result.length === 0 ? Number.NaN : Number(result[0].value[1]);
}

/** The values of `label` among the series of `expr`, which must cover every one of `expected`. */
async function covers(expr: string, label: string, expected: readonly string[]): Promise<void> {
  coverage(await query(expr), expr, label, expected);
}

function coverage(series: readonly Series[], expr: string, label: string, expected: readonly string[]): void {
  const seen = new Set(series.map((s) => s.metric[label]));
  const missing = expected.filter((v) => !seen.has(v));
  if (missing.length > 0) throw new Error(`${label} ${missing.join(', ')} missing from: ${expr} (has: ${[...seen].join(', ') || 'nothing'})`);
}

/** `value` is within `tolerance` (a fraction) of `reference`. */
function within(what: string, value: number, reference: number, tolerance: number): void {
  if (!(Math.abs(value - reference) <= tolerance * reference)) {
    throw new Error(`${what}: ${value.toFixed(2)}, not within ${tolerance * 100}% of ${reference.toFixed(2)}`);
  }
}

async function putPolicy(name: string, token: string | undefined): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  return fetch(`${ADMIN_URL}/policy`, { method: 'PUT', headers, body: JSON.stringify({ name }), signal: AbortSignal.timeout(10_000) });
}

async function currentPolicy(): Promise<string> {
  const series = await nonEmpty('dispatchlab_policy_info == 1');
  if (series.length !== 1) throw new Error(`expected one policy in use, got ${series.map((s) => s.metric.policy).join(', ')}`);
  return series[0].metric.policy;
}

/** The policy is in use and requests answered under it show in the 1m rate. */
async function servingUnder(policy: string): Promise<void> {
  const inUse = await currentPolicy();
  if (inUse !== policy) throw new Error(`dispatchlab_policy_info says ${inUse} is in use, not ${policy}`);
  const rate = await nonEmpty(`sum(rate(dispatchlab_requests_total{policy="${policy}",code=~"2.."}[1m])) > 0`);
  if (Number(rate[0].value[1]) <= 0) throw new Error(`no 2xx answers under ${policy}`);
}

interface ActiveTarget {
  labels: Record<string, string>;
  health: string;
  lastError: string;
}

async function activeTargets(job: string): Promise<ActiveTarget[]> {
  const body = await getJson<{ data: { activeTargets: ActiveTarget[] } }>(`${PROMETHEUS_URL}/api/v1/targets?state=active`);
  return body.data.activeTargets.filter((t) => t.labels.job === job);
}

/**
 * Every target deploy/prometheus/prometheus.yml names is scraped and up: each static target by
 * name, and for a DNS-discovered job (the dispatchers) exactly `dispatchers` targets, all up.
 */
async function scrapeTargets(dispatchers: number): Promise<void> {
  for (const job of readYaml<PrometheusConfig>(PROMETHEUS_FILE).scrape_configs) {
    for (const target of (job.static_configs ?? []).flatMap((s) => s.targets)) {
      await check(`Prometheus scrapes ${job.job_name} ${target} (up)`, () =>
        eventually(async () => {
          const found = (await activeTargets(job.job_name)).find((t) => t.labels.instance === target);
          if (!found) throw new Error(`no active target ${target} in job ${job.job_name}`);
          if (found.health !== 'up') throw new Error(`target ${target}: ${found.health} ${found.lastError}`);
        }),
      );
    }
    for (const sd of job.dns_sd_configs ?? []) {
      await check(`Prometheus finds ${dispatchers} ${job.job_name}(s) by DNS (${sd.names.join(', ')}) and scrapes each (up)`, () =>
        eventually(async () => {
          const found = await activeTargets(job.job_name);
          const up = found.filter((t) => t.health === 'up');
          if (found.length !== dispatchers || up.length !== dispatchers) {
            throw new Error(`job ${job.job_name}: ${found.map((t) => `${t.labels.instance} ${t.health} ${t.lastError}`).join('; ') || 'no targets'}`);
          }
        }),
      );
    }
  }
}

/**
 * A rule or dashboard query has a number for everything it is about: a series per host, per VM
 * and per replica when it is split by them, and no NaN or infinity for the policy in use (a
 * policy switched away from a minute ago has no 1m rate, so its 1m quantiles are NaN, rightly).
 */
async function queryHasValues(q: NamedQuery, expected: { host: readonly string[]; vm: readonly string[]; backend: readonly string[]; policy: string }): Promise<void> {
  const series = await nonEmpty(q.expr);
  for (const label of ['host', 'vm', 'backend'] as const) {
    if (series.some((s) => s.metric[label] !== undefined)) coverage(series, q.expr, label, expected[label]);
  }
  const bad = series.filter((s) => (s.metric.policy === undefined || s.metric.policy === expected.policy) && !Number.isFinite(Number(s.value[1])));
  if (bad.length > 0) throw new Error(`not a number: ${bad.map((s) => `${JSON.stringify(s.metric)} ${s.value[1]}`).join('; ')} in: ${q.expr}`);
}

/** Each host's share of the requests answered under `policy`, over its whole period in this run. */
async function hostShares(policy: string, replicaHost: ReadonlyMap<string, string>): Promise<Map<string, number>> {
  const range = `${Math.ceil((Date.now() - startedMs) / 1000) + 60}s`;
  const series = await nonEmpty(`sum by (backend) (increase(dispatchlab_requests_total{policy="${policy}",code=~"2..",backend!="none"}[${range}]))`);
  const total = series.reduce((sum, s) => sum + Number(s.value[1]), 0);
  const shares = new Map<string, number>();
  for (const s of series) {
    const host = replicaHost.get(s.metric.backend);
    if (host === undefined) throw new Error(`answers from ${s.metric.backend}, which is no replica of the scenario`);
    shares.set(host, (shares.get(host) ?? 0) + Number(s.value[1]) / total);
  }
  return shares;
}

/** The same, as `simulate` predicts for the scenario at the demo's load. */
function simulatedHostShares(scenario: Scenario, policy: string): Map<string, number> {
  const spec = scenario.policies.find((p) => policyName(p) === policy) ?? policy;
  const atDemoLoad: Scenario = { ...scenario, workload: { ...scenario.workload, arrival: { rateRps: LOAD_RPS } } };
  const run = simulatePolicy(atDemoLoad, spec, { durationMs: 60_000 });
  const shares = new Map<string, number>();
  for (const b of run.backends) shares.set(b.host, (shares.get(b.host) ?? 0) + b.share);
  return shares;
}

/** CPU and steal per VM as the scenario implies them: which hosts are contended, who steals. */
async function cpuAndStealAgreeWithScenario(scenario: Scenario): Promise<void> {
  const vms = expandVms(scenario);
  for (const host of scenario.hosts) {
    const onHost = vms.filter((vm) => vm.host === host.name);
    const vcpus = onHost.reduce((sum, vm) => sum + vm.vcpus, 0);
    const contended = vcpus + (host.hypervisor === 'type2' ? host.hostLoad : 0) > host.cores;
    if (!contended) {
      await check(`no steal on ${host.name} (${vcpus} vCPUs on ${host.cores} cores): steal per VM is 0`, () =>
        eventually(async () => {
          const series = await nonEmpty(`host_vm:dispatchlab_vm_steal_seconds:rate1m{host="${host.name}"}`);
          coverage(series, 'steal per VM', 'vm', onHost.map((vm) => vm.name));
          const stealing = series.filter((s) => !(Number(s.value[1]) < NO_STEAL_CORES));
          if (stealing.length > 0) throw new Error(`steal on an uncontended host: ${stealing.map((s) => `${s.metric.vm} ${s.value[1]}`).join(', ')}`);
        }),
      );
      continue;
    }
    for (const vm of onHost.filter((v) => !v.serves && v.background.cpuCores > 0)) {
      await check(`the neighbour ${vm.name} on the contended ${host.name} is stolen from, and got plus lost is its demand (${vm.background.cpuCores} cores)`, () =>
        eventually(async () => {
          const cpu = await scalar(`host_vm:dispatchlab_vm_cpu_seconds:rate1m{host="${host.name}",vm="${vm.name}"}`);
          const steal = await scalar(`host_vm:dispatchlab_vm_steal_seconds:rate1m{host="${host.name}",vm="${vm.name}"}`);
          if (!(steal > NO_STEAL_CORES)) throw new Error(`steal of ${vm.name}: ${steal} cores`);
          within(`CPU + steal of ${vm.name} (cores)`, cpu + steal, Math.min(vm.background.cpuCores, vm.vcpus), 0.1);
        }),
      );
    }
  }
  await check('every VM uses CPU (CPU per VM > 0 for each)', () =>
    eventually(() => covers('host_vm:dispatchlab_vm_cpu_seconds:rate1m > 0', 'vm', vms.map((vm) => vm.name))),
  );
}

async function checkStack(): Promise<void> {
  const scenario: Scenario = loadScenario(SCENARIO_FILE);
  const replicas = replicaVms(scenario).map((vm) => vm.name);
  const replicaHost = new Map(replicaVms(scenario).map((vm) => [vm.name, vm.host]));
  const hosts = scenario.hosts.map((h) => h.name);
  const vms = expandVms(scenario).map((vm) => vm.name);
  const token = process.env.DISPATCHLAB_ADMIN_TOKEN;
  if (!token) throw new Error('DISPATCHLAB_ADMIN_TOKEN is not set');

  const ready = await check('Prometheus is ready', () =>
    eventually(async () => {
      const res = await fetch(`${PROMETHEUS_URL}/-/ready`, { signal: AbortSignal.timeout(5000) });
      if (!res.ok) throw new Error(`/-/ready: ${res.status}`);
    }),
  );
  if (!ready) return;
  await scrapeTargets(1);

  // As a user would: try again until it answers, up to a deadline, each try bounded.
  await check('the dispatcher answers on its published port', () =>
    eventually(async () => {
      for (const path of ['/', '/report']) {
        const res = await fetch(`${DISPATCHER_URL}${path}`, { signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`GET ${path}: ${res.status}`);
      }
    }),
  );
  await check('every host reports every one of its VMs', () =>
    eventually(async () => {
      await covers('group by (host) (dispatchlab_vm_up)', 'host', hosts);
      await covers('group by (vm) (dispatchlab_vm_up)', 'vm', vms);
    }),
  );
  // Arrivals, whether sent or dropped (too many outstanding): the rate the demo asks for reached the
  // generator. How many of them the machine could serve is the next check's business.
  await check(`the load generator's arrivals come at the demo's ${LOAD_RPS} requests/s (±${RATE_TOLERANCE * 100}%)`, () =>
    eventually(async () => {
      within('arrivals/s', await scalar('sum(rate(dispatchlab_loadgen_requests_total[1m]))'), LOAD_RPS, RATE_TOLERANCE);
    }),
  );
  await check(`the dispatcher counts what the load generator sent (±${RATE_TOLERANCE * 100}%)`, () =>
    eventually(async () => {
      const sent = await scalar('sum(rate(dispatchlab_loadgen_requests_total{code!="dropped"}[1m]))');
      within('answered/s by the dispatcher', await scalar('sum(rate(dispatchlab_requests_total[1m]))'), sent, RATE_TOLERANCE);
    }),
  );
  const initial = policyName(scenario.policies[0]);
  await check(`the load generator's requests reach every replica under ${initial}`, () =>
    eventually(async () => {
      await servingUnder(initial);
      await covers(`sum by (backend) (rate(dispatchlab_requests_total{code=~"2.."}[1m])) > 0`, 'backend', replicas);
    }),
  );
  // Checked under the first policy (round robin in the compose file), which sends every replica a share.
  await check(`per-replica request rate (recording rule) under ${initial}`, () =>
    eventually(() => covers(`policy_backend:dispatchlab_requests:rate1m{policy="${initial}"} > 0`, 'backend', replicas)),
  );
  await cpuAndStealAgreeWithScenario(scenario);
  // With no per-replica limit (maxConnPerBackend 0) nothing ever queues: a request goes to a
  // healthy replica at once, or is refused when there is none. Every dispatch must then be in the
  // le="0" bucket, and queue wait p99 and mean length exactly 0: not 0.495 ms, interpolated inside
  // (0, 0.5 ms] when each dispatch recorded the microseconds between two clock readings.
  if (scenario.dispatcher.maxConnPerBackend === 0) {
    await check('nothing queues (maxConnPerBackend 0): every dispatch waited exactly 0, queue wait p99 and mean length are 0', () =>
      eventually(async () => {
        const window = `{policy="${initial}"}[1m]`;
        const [dispatched, unqueued, p99, length] = await Promise.all([
          scalar(`sum(rate(dispatchlab_queue_wait_seconds_count${window}))`),
          scalar(`sum(rate(dispatchlab_queue_wait_seconds_bucket{policy="${initial}",le="0"}[1m]))`),
          scalar(`policy:dispatchlab_queue_wait_seconds:p99_1m{policy="${initial}"}`),
          scalar(`policy:dispatchlab_queue_length:mean1m{policy="${initial}"}`),
        ]);
        if (!(dispatched > 0) || unqueued !== dispatched || p99 !== 0 || length !== 0) {
          throw new Error(`${unqueued}/s of ${dispatched}/s dispatches waited 0; queue wait p99 ${p99} s, mean length ${length}`);
        }
      }),
    );
  }

  await check('the admin API refuses a policy change without the token (401), and nothing changes', async () => {
    const res = await putPolicy('least-loaded', undefined);
    await res.arrayBuffer();
    if (res.status !== 401) throw new Error(`PUT /policy without a token: ${res.status}`);
    const inUse = await currentPolicy();
    if (inUse !== initial) throw new Error(`policy is now ${inUse}`);
  });

  const switched = 'least-loaded';
  const putAndServe = async (policy: string): Promise<void> => {
    const res = await putPolicy(policy, token);
    const body = await res.text();
    if (res.status !== 200) throw new Error(`PUT /policy: ${res.status} ${body}`);
    await eventually(() => servingUnder(policy));
  };
  await check(`PUT /policy ${switched} with the token shows in the metrics`, () => putAndServe(switched));
  await new Promise((resolve) => setTimeout(resolve, SHARE_PERIOD_MS));
  await check(`after the switch to ${switched}, each host's share moves the way simulate predicts`, async () => {
    const predicted = { before: simulatedHostShares(scenario, initial), after: simulatedHostShares(scenario, switched) };
    const live = { before: await hostShares(initial, replicaHost), after: await hostShares(switched, replicaHost) };
    const lines: string[] = [];
    let wrong = false;
    for (const host of hosts) {
      const expected = (predicted.after.get(host) ?? 0) - (predicted.before.get(host) ?? 0);
      const seen = (live.after.get(host) ?? 0) - (live.before.get(host) ?? 0);
      lines.push(`${host}: simulate ${expected >= 0 ? '+' : ''}${expected.toFixed(3)}, live ${seen >= 0 ? '+' : ''}${seen.toFixed(3)}`);
      // The model must predict a move worth checking, and live must move the same way, at least a third as far.
      if (Math.abs(expected) < 0.02 || Math.sign(seen) !== Math.sign(expected) || Math.abs(seen) < Math.abs(expected) / 3) wrong = true;
    }
    if (wrong) throw new Error(lines.join('; '));
    process.stdout.write(`       ${lines.join('; ')}\n`);
  });
  // Session-sticky last, so the sticky series (1m rates) still have data for the checks below.
  const current = 'session-sticky';
  await check(`PUT /policy ${current} with the token shows in the metrics`, () => putAndServe(current));
  const used = [initial, switched, current];

  // Over the whole run (as the dashboard's range panel asks), so no policy has aged out of a window.
  await check(`p50 and p99 per policy from the histograms over the run, a number for every policy used: ${used.join(', ')}`, async () => {
    const range = `${Math.ceil((Date.now() - startedMs) / 1000) + 60}s`;
    for (const q of ['0.5', '0.99']) {
      await covers(`histogram_quantile(${q}, sum by (policy, le) (increase(dispatchlab_request_duration_seconds_bucket[${range}]))) > 0`, 'policy', used);
    }
  });
  await check(`sticky hit ratio (recording rule) under ${current} is a ratio`, () =>
    eventually(async () => {
      const ratio = await scalar(`policy:dispatchlab_sticky_hits:ratio_rate1m{policy="${current}"}`);
      if (!(ratio >= 0 && ratio <= 1)) throw new Error(`sticky hit ratio: ${ratio}`);
    }),
  );
  const expected = { host: hosts, vm: vms, backend: replicas, policy: current };
  const rangeSeconds = Math.ceil((Date.now() - startedMs) / 1000) + 60;
  const queries: NamedQuery[] = [
    ...recordingRules().map((r) => ({ where: `recording rule ${r.record}`, expr: r.record })),
    ...dashboardQueries(readJson<Dashboard>(DASHBOARD_FILE), rangeSeconds).map((q) => ({ ...q, where: `dashboard ${q.where}` })),
  ];
  for (const q of queries) {
    await check(`${q.where}: a number for every host, VM and replica it is split by`, () => eventually(() => queryHasValues(q, expected), 20_000));
  }
}

/** K dispatchers on one fleet: the dispatcher and K-1 extra ones (run.sh scales extra-dispatcher). */
async function checkDispatchers(k: number): Promise<void> {
  const scenario = loadScenario(SCENARIO_FILE);
  const replicas = replicaVms(scenario).map((vm) => vm.name);
  await scrapeTargets(k);
  await check(`the load generator spreads its arrivals over the ${k} dispatchers`, () =>
    eventually(async () => {
      const spread = await scalar('max(dispatchlab_loadgen_dispatchers)');
      if (spread !== k) throw new Error(`dispatchlab_loadgen_dispatchers: ${spread}`);
    }),
  );
  // 30 s windows, so the minute before the scale-up does not weigh in.
  await check(`each of the ${k} dispatchers answers its part (1/${k} of the load, ±${RATE_TOLERANCE * 100}%), and all of them what was sent`, () =>
    eventually(async () => {
      const sent = await scalar('sum(rate(dispatchlab_loadgen_requests_total{code!="dropped"}[30s]))');
      const per = await query('sum by (instance) (rate(dispatchlab_requests_total[30s]))');
      if (per.length !== k) throw new Error(`${per.length} dispatchers count requests: ${per.map((s) => s.metric.instance).join(', ')}`);
      for (const s of per) within(`answered/s by ${s.metric.instance}`, Number(s.value[1]), sent / k, RATE_TOLERANCE);
      within('answered/s by all dispatchers', per.reduce((sum, s) => sum + Number(s.value[1]), 0), sent, RATE_TOLERANCE);
    }),
  );
  await check('each dispatcher sends to every replica (the fleet is shared)', () =>
    eventually(async () => {
      const series = await query('sum by (instance, backend) (rate(dispatchlab_requests_total{code=~"2..",backend!="none"}[30s])) > 0');
      const instances = [...new Set(series.map((s) => s.metric.instance))];
      if (instances.length !== k) throw new Error(`answers from ${instances.length} dispatchers: ${instances.join(', ')}`);
      for (const instance of instances) coverage(series.filter((s) => s.metric.instance === instance), `answers through ${instance}`, 'backend', replicas);
    }),
  );
}

async function checkOwner(file: string): Promise<void> {
  const scenario = loadScenario(file);
  const harvested = replicaVms(scenario).filter((vm) => vm.harvested);
  const ownerHosts = [...new Set(harvested.map((vm) => vm.host))];
  const others = replicaVms(scenario).filter((vm) => !vm.harvested).map((vm) => vm.name);
  if (ownerHosts.length === 0 || others.length === 0) throw new Error(`${file}: expected harvested replicas and others`);
  const hostRe = ownerHosts.join('|');
  const harvestedRe = harvested.map((vm) => vm.name).join('|');
  const othersRe = others.join('|');

  await check(`the owner comes back to ${ownerHosts.join(', ')} and its harvested VMs are suspended`, () =>
    eventually(async () => {
      if ((await scalar(`min(dispatchlab_host_owner_active{host=~"${hostRe}"})`)) !== 1) throw new Error('owner not active');
      if ((await scalar(`max(dispatchlab_vm_up{vm=~"${harvestedRe}"})`)) !== 0) throw new Error(`${harvestedRe} still up`);
    }, 60_000),
  );
  await check('the dispatcher takes the suspended replicas out (health checks)', () =>
    eventually(async () => {
      const up = await scalar(`max(dispatchlab_backend_up{backend=~"${harvestedRe}"})`);
      if (up !== 0) throw new Error(`dispatchlab_backend_up of ${harvestedRe}: ${up}`);
    }, 30_000),
  );
  await check('meanwhile the other replicas answer the load', () =>
    eventually(async () => {
      const rate = await scalar(`sum(rate(dispatchlab_requests_total{backend=~"${othersRe}",code=~"2.."}[15s]))`);
      if (!(rate > 0)) throw new Error(`2xx rate on ${othersRe}: ${rate}`);
    }, 30_000),
  );
  // The policy in use is the stack checks' last, session-sticky: the load generator's sessions
  // that were moved off the suspended replicas stay where they went (their cookies say so, as with
  // HAProxy's cookie insert), so the replicas come back for new sessions, which the bound on
  // sessions per replica now sends to them. New sessions here are requests without a cookie.
  const harvestedNames = new Set(harvested.map((vm) => vm.name));
  await check('when the owner leaves, the VMs resume and the dispatcher takes them back (new sessions reach them)', () =>
    eventually(async () => {
      if ((await scalar(`max(dispatchlab_host_owner_active{host=~"${hostRe}"})`)) !== 0) throw new Error('owner still active');
      const up = await scalar(`min(dispatchlab_backend_up{backend=~"${harvestedRe}"})`);
      if (up !== 1) throw new Error(`dispatchlab_backend_up of ${harvestedRe}: ${up}`);
      const servedBy: string[] = [];
      for (let i = 0; i < NEW_SESSIONS; i++) {
        const res = await fetch(`${DISPATCHER_URL}/`, { signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer();
        if (res.ok) servedBy.push(res.headers.get('x-served-by') ?? '');
      }
      if (!servedBy.some((vm) => harvestedNames.has(vm))) throw new Error(`${NEW_SESSIONS} new sessions, none answered by ${harvestedRe}: ${servedBy.join(', ')}`);
    }, 90_000),
  );
}

/** Requests without a cookie sent to see where new sessions go. */
const NEW_SESSIONS = 10;

const run = mode === 'owner' ? checkOwner(modeArg) : mode === 'dispatchers' ? checkDispatchers(Number(modeArg)) : checkStack();
run.catch((err: unknown) => {
  record('live checks ran to the end', err instanceof Error ? err.message : String(err));
});
