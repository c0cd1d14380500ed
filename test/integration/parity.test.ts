import http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { createRng } from '../../core/rng.js';
import { parseScenario, type PolicySpec } from '../../core/scenario.js';
import type { AttemptOutcome } from '../../dispatcher/balancer/types.js';
import { startUp, type RunningUp } from '../../dispatcher/local-fleet.js';
import { CookieJar, createRequestPlanner } from '../../loadtest/request-plan.js';
import { simulatePolicy } from '../../sim/simulation.js';
import { until } from './dispatcher-helpers.js';

/**
 * Live equals simulated, decision for decision: the Balancer's attempt trace (request index,
 * backend, attempt, outcome) of a live run on real sockets and of `simulate` on the same scenario
 * and seed are identical. The live requests are the generator's own (same classes, sessions,
 * client addresses and indices, loadtest/request-plan.ts), sent one after the other so arrival
 * order is request order; the policies' decisions depend on that order, the keys and the seed,
 * not on timing, so no tolerance is needed.
 */

const REQUESTS = 60;

const scenario = parseScenario({
  name: 'parity',
  seed: 11,
  hosts: [{ name: 'h', cores: 8, memoryMb: 16384 }],
  vms: [{ name: 'web', count: 4, host: 'h', vcpus: 1 }],
  workload: {
    classes: [
      { name: 'page', share: 0.7, route: '/page', cpuMs: 1, service: 'exponential' },
      { name: 'api', share: 0.3, route: '/api', cpuMs: 2, service: 'deterministic' },
    ],
    sessions: 12,
    // One request at a time in the simulator too: far apart, each done long before the next.
    arrival: { rateRps: 0.5 },
  },
  dispatcher: { healthCheck: { intervalMs: 60_000, timeoutMs: 10_000 } },
  duration: '10m',
  warmup: '0s',
});

type Entry = readonly [index: number | undefined, backend: string, attempt: number, outcome: string];
const describeOutcome = (o: AttemptOutcome): string => (o.kind === 'response' ? `${o.kind}:${o.status}` : o.kind);

const running: RunningUp[] = [];
afterAll(async () => {
  await Promise.all(running.map((up) => up.close()));
});

function send(url: URL, path: string, headers: Record<string, string>, jar: CookieJar | undefined): Promise<number> {
  const cookie = jar?.header();
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname: url.hostname, port: url.port, path, headers: cookie === undefined ? headers : { ...headers, cookie }, agent: false }, (res) => {
      jar?.store(res.headers['set-cookie']);
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

async function liveTrace(policy: PolicySpec): Promise<Entry[]> {
  const trace: Entry[] = [];
  const up = await startUp({
    scenario,
    policy,
    dispatcher: { healthChecks: false, onAttemptEnded: (info, backend, attempt, outcome) => trace.push([info.index, backend, attempt, describeOutcome(outcome)]) },
  });
  running.push(up);
  const url = new URL(up.dispatcher.url);
  const next = createRequestPlanner(scenario.workload.classes, scenario.workload.sessions, createRng(scenario.seed));
  // Each session keeps its cookies, as the generator's clients do.
  const jars = new Map<number, CookieJar>();
  for (let i = 0; i < REQUESTS; i++) {
    const request = next();
    let jar: CookieJar | undefined;
    if (request.session !== undefined) {
      jar = jars.get(request.session) ?? new CookieJar();
      jars.set(request.session, jar);
    }
    expect(await send(url, request.path, { ...request.headers }, jar)).toBe(200);
  }
  return trace;
}

function simulatedTrace(policy: PolicySpec): Entry[] {
  const trace: Entry[] = [];
  simulatePolicy(scenario, policy, { requests: REQUESTS, onAttemptEnded: (info, backend, attempt, outcome) => trace.push([info.index, backend, attempt, describeOutcome(outcome)]) });
  return trace.slice(0, REQUESTS);
}

describe('live and simulated runs make the same decisions', () => {
  it.each<[string, PolicySpec]>([
    ['round-robin', 'round-robin'],
    ['random (seeded)', 'random'],
    ['consistent hashing on the client address (X-Forwarded-For)', { name: 'consistent-hash', options: { key: 'client' } }],
    ['session-sticky keyed on the session header', { name: 'session-sticky', options: { key: 'header' } }],
    ['session-sticky with its signed cookie', 'session-sticky'],
  ])('%s: the same backend for every request, attempt and outcome', async (_label, policy) => {
    const live = await liveTrace(policy);
    const simulated = simulatedTrace(policy);
    expect(live).toHaveLength(REQUESTS);
    expect(live.map((e) => e[0])).toEqual(Array.from({ length: REQUESTS }, (_, i) => i));
    expect(live).toEqual(simulated);
    // The keyed policies spread the generated clients over the replicas (live, every request used
    // to come from 127.0.0.1 and landed on one).
    expect(new Set(live.map((e) => e[1])).size).toBeGreaterThan(1);
  });
});

describe('session-sticky places sessions the same live and simulated while requests overlap', () => {
  // Slow requests: live, a dozen are in flight at every new session's first request; simulated
  // (one request every 2 s), none. Placement bounds sessions per replica, not requests in flight,
  // so the in-flight counts the machine happens to produce at that instant decide nothing.
  const overlapping = parseScenario({
    ...scenario,
    name: 'parity-overlap',
    workload: { ...scenario.workload, classes: [{ name: 'slow', share: 1, route: '/slow', cpuMs: 300, service: 'deterministic' }] },
  });
  const SENT = 30;

  it('the same backend for every request, though the live in-flight counts differ from the simulated', async () => {
    const trace = new Map<number, string>();
    const up = await startUp({
      scenario: overlapping,
      policy: 'session-sticky',
      dispatcher: { healthChecks: false, onAttemptEnded: (info, backend) => trace.set(info.index as number, backend) },
    });
    running.push(up);
    const url = new URL(up.dispatcher.url);
    const next = createRequestPlanner(overlapping.workload.classes, overlapping.workload.sessions, createRng(overlapping.seed));
    const jars = new Map<number, CookieJar>();
    const answers: Array<Promise<number>> = [];
    let mostInFlight = 0;
    for (let i = 0; i < SENT; i++) {
      const request = next();
      const session = request.session as number;
      const jar = jars.get(session) ?? new CookieJar();
      jars.set(session, jar);
      answers.push(send(url, request.path, { ...request.headers }, jar));
      // The next request goes out once this one is dispatched, so arrival order is request order.
      await until(() => up.dispatcher.balancer.stats().dispatched === i + 1);
      mostInFlight = Math.max(mostInFlight, up.dispatcher.balancer.views().reduce((n, b) => n + b.inFlight, 0));
    }
    expect(await Promise.all(answers)).toEqual(Array.from({ length: SENT }, () => 200));
    expect(mostInFlight).toBeGreaterThan(4);

    const simulated = new Map<number, string>();
    simulatePolicy(overlapping, 'session-sticky', { requests: SENT, onAttemptEnded: (info, backend) => simulated.set(info.index as number, backend) });
    const inOrder = (m: Map<number, string>): string[] => Array.from({ length: SENT }, (_, i) => m.get(i) ?? 'none');
    expect(inOrder(trace)).toEqual(inOrder(simulated));
    expect(new Set(trace.values()).size).toBeGreaterThan(1);
  });
});

