import { appendFileSync } from 'node:fs';
import { loadScenario, policyName, replicaVms, type Scenario } from '../../core/scenario.js';
import {
  DASHBOARD_FILE,
  dashboardQueries,
  PROMETHEUS_FILE,
  readJson,
  readYaml,
  recordingRules,
  type Dashboard,
  type NamedQuery,
} from './deploy-files.js';

/**
 * The live half of test/compose/run.sh, against the compose demo it brought up: Prometheus
 * scrapes every target, the load reaches every replica, switching the policy through the admin
 * API shows in the metrics, and every recording rule and every dashboard query returns series.
 * With `owner`, against host(s) restarted on a scenario whose owner comes back
 * (owner-scenario.ts): the harvested replicas are suspended, the dispatcher routes around them
 * and keeps answering, and takes them back when the owner leaves.
 * Usage: live-checks.ts stack RESULTS_FILE | live-checks.ts owner RESULTS_FILE OWNER_SCENARIO.
 * Appends `pass NAME` / `fail NAME` lines for run.sh to count, prints each with the reason of a
 * failure, and never throws past a single check.
 *
 * Endpoints are the ports docker-compose.yml publishes on 127.0.0.1; the admin token comes from
 * DISPATCHLAB_ADMIN_TOKEN, which run.sh also hands to compose.
 */

const PROMETHEUS_URL = 'http://127.0.0.1:9090';
const DISPATCHER_URL = 'http://127.0.0.1:8080';
const ADMIN_URL = 'http://127.0.0.1:9901';
const SCENARIO_FILE = 'scenarios/default.yaml';
/** Scrapes every 5 s and 1m rates: a change shows within ~15 s; allow a slow shared machine more. */
const WAIT_MS = 90_000;
const POLL_MS = 2000;

interface Series {
  metric: Record<string, string>;
  value: [number, string];
}

const [mode, resultsFile, ownerScenarioFile] = process.argv.slice(2);
if (!resultsFile || !(mode === 'stack' || (mode === 'owner' && ownerScenarioFile))) {
  process.stderr.write('usage: live-checks.ts stack RESULTS_FILE | live-checks.ts owner RESULTS_FILE OWNER_SCENARIO\n');
  process.exit(2);
}
const startedMs = Date.now();

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

/** The values of `label` among the series of `expr`, which must cover every one of `expected`. */
async function covers(expr: string, label: string, expected: readonly string[]): Promise<void> {
  const seen = new Set((await query(expr)).map((s) => s.metric[label]));
  const missing = expected.filter((v) => !seen.has(v));
  if (missing.length > 0) throw new Error(`${label} ${missing.join(', ')} missing from: ${expr} (has: ${[...seen].join(', ') || 'nothing'})`);
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

async function scrapeTargets(): Promise<void> {
  const config = readYaml<{ scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] }>(PROMETHEUS_FILE);
  for (const job of config.scrape_configs) {
    for (const target of job.static_configs.flatMap((s) => s.targets)) {
      await check(`Prometheus scrapes ${job.job_name} ${target} (up)`, () =>
        eventually(async () => {
          const body = await getJson<{ data: { activeTargets: { labels: Record<string, string>; health: string; lastError: string }[] } }>(
            `${PROMETHEUS_URL}/api/v1/targets?state=active`,
          );
          const found = body.data.activeTargets.find((t) => t.labels.job === job.job_name && t.labels.instance === target);
          if (!found) throw new Error(`no active target ${target} in job ${job.job_name}`);
          if (found.health !== 'up') throw new Error(`target ${target}: ${found.health} ${found.lastError}`);
        }),
      );
    }
  }
}

async function queriesReturnSeries(label: string, queries: readonly NamedQuery[]): Promise<void> {
  for (const q of queries) await check(`${label}: ${q.where} returns series`, () => eventually(() => nonEmpty(q.expr), 20_000).then(() => undefined));
}

async function checkStack(): Promise<void> {
  const scenario: Scenario = loadScenario(SCENARIO_FILE);
  const replicas = replicaVms(scenario).map((vm) => vm.name);
  const hosts = scenario.hosts.map((h) => h.name);
  const token = process.env.DISPATCHLAB_ADMIN_TOKEN;
  if (!token) throw new Error('DISPATCHLAB_ADMIN_TOKEN is not set');

  const ready = await check('Prometheus is ready', () =>
    eventually(async () => {
      const res = await fetch(`${PROMETHEUS_URL}/-/ready`, { signal: AbortSignal.timeout(5000) });
      if (!res.ok) throw new Error(`/-/ready: ${res.status}`);
    }),
  );
  if (!ready) return;
  await scrapeTargets();

  await check('the dispatcher answers on its published port', async () => {
    for (const path of ['/', '/report']) {
      const res = await fetch(`${DISPATCHER_URL}${path}`, { signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`GET ${path}: ${res.status}`);
    }
  });
  await check('every host reports every one of its VMs', () =>
    eventually(async () => {
      await covers('group by (host) (dispatchlab_vm_up)', 'host', hosts);
      await covers('group by (vm) (dispatchlab_vm_up)', 'vm', replicas);
    }),
  );
  const initial = scenario.policies.map(policyName)[0];
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
  await check('VMs use CPU under the load (per-VM CPU seconds grow)', () =>
    eventually(() => covers('host_vm:dispatchlab_vm_cpu_seconds:rate1m > 0', 'vm', replicas)),
  );

  await check('the admin API refuses a policy change without the token (401), and nothing changes', async () => {
    const res = await putPolicy('least-loaded', undefined);
    await res.arrayBuffer();
    if (res.status !== 401) throw new Error(`PUT /policy without a token: ${res.status}`);
    const inUse = await currentPolicy();
    if (inUse !== initial) throw new Error(`policy is now ${inUse}`);
  });
  // Session-sticky last, so the sticky series (1m rates) still have data for the checks below.
  const switched = ['least-loaded', 'session-sticky'];
  for (const policy of switched) {
    await check(`PUT /policy ${policy} with the token shows in the metrics`, async () => {
      const res = await putPolicy(policy, token);
      const body = await res.text();
      if (res.status !== 200) throw new Error(`PUT /policy: ${res.status} ${body}`);
      await eventually(() => servingUnder(policy));
    });
  }
  const used = [initial, ...switched];
  const current = used[used.length - 1];

  // Over the whole run (as the dashboard's range panel asks), so no policy has aged out of a window.
  await check(`p50 and p99 per policy from the histograms, for every policy used: ${used.join(', ')}`, async () => {
    const range = `${Math.ceil((Date.now() - startedMs) / 1000) + 60}s`;
    for (const q of ['0.5', '0.99']) {
      await covers(`histogram_quantile(${q}, sum by (policy, le) (increase(dispatchlab_request_duration_seconds_bucket[${range}]))) >= 0`, 'policy', used);
    }
  });
  await check(`p99 per policy (recording rule) for the policy in use, ${current}`, () =>
    eventually(() => covers('policy:dispatchlab_request_duration_seconds:p99_1m >= 0', 'policy', [current])),
  );
  await check(`sticky hit ratio (recording rule) under ${current}`, () =>
    eventually(() => covers('policy:dispatchlab_sticky_hits:ratio_rate1m >= 0', 'policy', [current])),
  );
  await queriesReturnSeries('recording rule', recordingRules().map((r) => ({ where: r.record, expr: r.record })));
  const rangeSeconds = Math.ceil((Date.now() - startedMs) / 1000) + 60;
  await queriesReturnSeries('dashboard', dashboardQueries(readJson<Dashboard>(DASHBOARD_FILE), rangeSeconds));
}

/** A scalar query's value, or NaN when it has no series. */
async function scalar(expr: string): Promise<number> {
  const result = await query(expr);
  return result.length === 0 ? Number.NaN : Number(result[0].value[1]);
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
  await check('when the owner leaves, the VMs resume and the dispatcher takes them back', () =>
    eventually(async () => {
      if ((await scalar(`max(dispatchlab_host_owner_active{host=~"${hostRe}"})`)) !== 0) throw new Error('owner still active');
      const up = await scalar(`min(dispatchlab_backend_up{backend=~"${harvestedRe}"})`);
      if (up !== 1) throw new Error(`dispatchlab_backend_up of ${harvestedRe}: ${up}`);
      const rate = await scalar(`sum(rate(dispatchlab_requests_total{backend=~"${harvestedRe}",code=~"2.."}[15s]))`);
      if (!(rate > 0)) throw new Error(`no 2xx answers from ${harvestedRe} yet`);
    }, 90_000),
  );
}

(mode === 'owner' ? checkOwner(ownerScenarioFile) : checkStack()).catch((err: unknown) => {
  record('live checks ran to the end', err instanceof Error ? err.message : String(err));
});
