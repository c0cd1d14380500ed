import { afterAll, describe, expect, it } from 'vitest';
import { startUp, type RunningUp } from '../../dispatcher/local-fleet.js';
import { get, replicasScenario, until } from './dispatcher-helpers.js';

const running: RunningUp[] = [];
afterAll(async () => {
  await Promise.all(running.map((u) => u.close()));
});

async function start(cpuMs: number, dispatcher: Record<string, unknown>): Promise<RunningUp> {
  const up = await startUp({ scenario: replicasScenario(2, { cpuMs, dispatcher }), policy: 'round-robin', dispatcher: { healthChecks: false } });
  running.push(up);
  return up;
}

// Service times are long beside any stall of a busy machine: all requests of a test must be in
// before the first answer, or the queue they are meant to fill would drain first.
describe('the dispatcher queue on real sockets', () => {
  it('with maxConnPerBackend=1 and 2 replicas, 10 concurrent requests show 2 in flight and 8 queued, and all succeed', async () => {
    const up = await start(1000, { maxConnPerBackend: 1 });
    const balancer = up.dispatcher.balancer;
    const answers = Promise.all(Array.from({ length: 10 }, () => get(`${up.dispatcher.url}/page`)));
    await until(() => balancer.queueLength() === 8);
    expect(balancer.backends().map((b) => b.inFlight)).toEqual([1, 1]);
    const metrics = await (await fetch(`${up.dispatcher.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/dispatchlab_queue_length\{policy="round-robin"\} 8/);
    for (const answer of await answers) expect(answer.status).toBe(200);
    expect(balancer.queueLength()).toBe(0);
    expect(balancer.backends().map((b) => b.inFlight)).toEqual([0, 0]);
  });

  it('refuses with 503 and Retry-After when the queue timeout passes', async () => {
    const up = await start(2000, { maxConnPerBackend: 1, queue: { maxLength: 10, timeoutMs: 100 } });
    const answers = await Promise.all(Array.from({ length: 4 }, () => get(`${up.dispatcher.url}/page`)));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([200, 200, 503, 503]);
    for (const a of answers.filter((x) => x.status === 503)) {
      expect(Number(a.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(JSON.parse(a.body)).toEqual({ error: 'no backend available: queue-timeout' });
    }
  });
});
