import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROXY_ENGINES } from '../../core/scenario.js';
import { startUp, type RunningUp } from '../../dispatcher/local-fleet.js';
import { get, replicasScenario, until } from './dispatcher-helpers.js';

describe.each(PROXY_ENGINES)('failover on real sockets, %s engine', (engine) => {
  let up: RunningUp;

  beforeAll(async () => {
    // No active health checks here: a probe could notice the killed replica before any request
    // reaches it, and then there would be nothing to retry. The last test covers the probes.
    up = await startUp({ scenario: replicasScenario(3, { cpuMs: 5, dispatcher: { engine } }), policy: 'round-robin', dispatcher: { healthChecks: false } });
  });
  afterAll(async () => {
    await up?.close();
  });

  it('a replica killed under load costs no GET', async () => {
    const total = 150;
    const killAt = 40;
    let sent = 0;
    let done = 0;
    let killed: Promise<void> | undefined;
    const statuses: number[] = [];
    const servedAfterKill = new Set<string | null>();
    const worker = async (): Promise<void> => {
      while (sent < total) {
        sent++;
        const answer = await get(`${up.dispatcher.url}/page`);
        statuses.push(answer.status);
        if (killed) servedAfterKill.add(answer.servedBy);
        if (++done === killAt) killed = up.hosts[1].close(0);
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    await killed;
    expect(statuses).toHaveLength(total);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(up.dispatcher.balancer.stats().retries).toBeGreaterThan(0);
    expect(up.dispatcher.balancer.backends().find((b) => b.id === 'r2')!.state).not.toBe('healthy');
    expect(servedAfterKill.has('r1') && servedAfterKill.has('r3')).toBe(true);
  });

  it('a GET whose only replica refuses connections gets 502 with the failure, not a 503 refusal', async () => {
    const single = await startUp({ scenario: replicasScenario(1, { dispatcher: { engine } }), policy: 'round-robin', dispatcher: { healthChecks: false } });
    try {
      await single.hosts[0].close(0);
      const answer = await get(`${single.dispatcher.url}/page`);
      expect(answer.status).toBe(502);
      expect(answer.body).toContain('backend r1 failed: connect-error');
    } finally {
      await single.close();
    }
  });

  it('active health checks mark a stopped replica down without any traffic, and it shows in /metrics', async () => {
    const quiet = await startUp({ scenario: replicasScenario(2, { dispatcher: { engine } }), policy: 'round-robin' });
    try {
      await quiet.hosts[1].close(0);
      await until(() => quiet.dispatcher.balancer.backends().find((b) => b.id === 'r2')!.state === 'down');
      expect(quiet.dispatcher.balancer.stats().requests).toBe(0);
      const metrics = await (await fetch(`${quiet.dispatcher.adminUrl}/metrics`)).text();
      expect(metrics).toMatch(/dispatchlab_backend_up\{backend="r2"\} 0/);
      expect(metrics).toMatch(/dispatchlab_backend_state\{backend="r2",state="down"\} 1/);
      expect((await get(`${quiet.dispatcher.url}/page`)).servedBy).toBe('r1');
    } finally {
      await quiet.close();
    }
  });
});
