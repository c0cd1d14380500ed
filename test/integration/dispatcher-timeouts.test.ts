import http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { RunAccumulator } from '../../core/run-accumulator.js';
import { PROXY_ENGINES } from '../../core/scenario.js';
import type { Admission } from '../../dispatcher/balancer/types.js';
import { startUp, type RunningUp } from '../../dispatcher/local-fleet.js';
import { get, replicasScenario, until } from './dispatcher-helpers.js';

const running: RunningUp[] = [];
afterAll(async () => {
  await Promise.all(running.map((u) => u.close()));
});

describe.each(PROXY_ENGINES)('timeouts and client aborts on real sockets, %s engine', (engine) => {
  async function start(cpuMs: number, timeouts: { upstreamMs: number; totalMs: number }): Promise<RunningUp> {
    const up = await startUp({ scenario: replicasScenario(1, { cpuMs, dispatcher: { timeouts, engine } }), policy: 'round-robin', dispatcher: { healthChecks: false } });
    running.push(up);
    return up;
  }

  it('answers 504 when the backend is silent past the upstream timeout, and frees the lease', async () => {
    const up = await start(3000, { upstreamMs: 150, totalMs: 10_000 });
    const answer = await get(`${up.dispatcher.url}/slow`);
    expect(answer.status).toBe(504);
    expect(up.dispatcher.balancer.backends()[0].inFlight).toBe(0);
    const metrics = await (await fetch(`${up.dispatcher.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/dispatchlab_requests_total\{policy="round-robin",backend="r1",code="timeout"\} 1/);
  });

  it('answers 504 when the total timeout passes first', async () => {
    const up = await start(3000, { upstreamMs: 10_000, totalMs: 150 });
    const answer = await get(`${up.dispatcher.url}/slow`);
    expect(answer.status).toBe(504);
    await until(() => up.dispatcher.balancer.backends()[0].inFlight === 0);
  });

  it('a client that goes away frees the lease and stops the upstream request (no leak)', async () => {
    const up = await start(3000, { upstreamMs: 10_000, totalMs: 10_000 });
    const vm = () => up.hosts[0].host.snapshot().vms[0];
    const req = http.get(`${up.dispatcher.url}/slow`);
    req.on('error', () => {});
    await until(() => vm().running === 1);
    req.destroy();
    // The replica cancels its model job when its connection closes: only the leak fix closes it.
    await until(() => vm().running === 0 && up.dispatcher.balancer.backends()[0].inFlight === 0, 2000);
    const metrics = await (await fetch(`${up.dispatcher.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/dispatchlab_requests_total\{policy="round-robin",backend="r1",code="499"\} 1/);
  });

  it("a GET caught on a hung replica is retried on a live one after its per-try timeout; the total timeout is not", async () => {
    const up = await startUp({
      scenario: replicasScenario(2, { cpuMs: 1, dispatcher: { retries: 1, timeouts: { upstreamMs: 300, totalMs: 10_000 } } }),
      policy: 'round-robin',
      dispatcher: { healthChecks: false },
    });
    running.push(up);
    // r1's VM is suspended: its replica takes the request and never answers, like a SIGSTOPped host.
    up.hosts[0].host.ownerReturns('r1', 'suspend', 60_000);
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await get(`${up.dispatcher.url}/page`));
    expect(answers.map((a) => [a.status, a.servedBy])).toEqual(Array.from({ length: 4 }, () => [200, 'r2']));
    expect(up.dispatcher.balancer.stats().retries).toBe(2);
    expect(up.dispatcher.balancer.backends().map((b) => b.inFlight)).toEqual([0, 0]);
    const metrics = await (await fetch(`${up.dispatcher.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/dispatchlab_attempt_failures_total\{policy="round-robin",backend="r1"\} 2/);

    const short = await startUp({
      scenario: replicasScenario(2, { cpuMs: 1, dispatcher: { retries: 1, timeouts: { upstreamMs: 10_000, totalMs: 300 } } }),
      policy: 'round-robin',
      dispatcher: { healthChecks: false },
    });
    running.push(short);
    short.hosts[0].host.ownerReturns('r1', 'suspend', 60_000);
    expect((await get(`${short.dispatcher.url}/page`)).status).toBe(504);
    expect(short.dispatcher.balancer.stats().retries).toBe(0);
  });

  it('a retry still waiting for a slot when the total timeout answers is not an attempt: it was never sent (as simulated, sim/driver.ts abandonedAdmission)', async () => {
    const events = new RunAccumulator([{ id: 'r1' }, { id: 'r2' }], 0, 1000);
    events.startWindow(0);
    const up = await startUp({
      scenario: replicasScenario(2, { cpuMs: 1, dispatcher: { engine, retries: 1, maxConnPerBackend: 1, timeouts: { upstreamMs: 200, totalMs: 600 } } }),
      policy: 'round-robin',
      dispatcher: { healthChecks: false, events },
    });
    running.push(up);
    // r1's one slot is taken past the request's whole life (round robin leases r1 first), and r2 hangs.
    let held: Admission | undefined;
    up.dispatcher.balancer.begin({ retryable: true, requestKey: '/' }, (admission) => (held = admission));
    expect(held?.lease?.backend).toBe('r1');
    up.hosts[1].host.ownerReturns('r2', 'suspend', 60_000);
    // The request goes to r2, times out there after 200 ms, and its retry waits for r1's slot until the total timeout.
    expect((await get(`${up.dispatcher.url}/page`)).status).toBe(504);
    // The slot comes free: the waiting retry is admitted, finds its request answered, and gives the slot back unsent.
    held?.lease?.end({ kind: 'response', status: 200 });
    await until(() => up.dispatcher.balancer.backends().every((b) => b.inFlight === 0));
    const run = events.fields(1000);
    expect(run.backends.map((b) => [b.id, b.requests, b.errors])).toEqual([['r1', 0, 0], ['r2', 1, 1]]);
    expect(run.retries).toBe(0);
    expect(run.errorsByCode).toEqual({ timeout: 1 });
  });
});
