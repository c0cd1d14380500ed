import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type RunningHost } from '../../backends/host-server.js';
import type { ReplicaResponse } from '../../backends/replica-app.js';
import { parseScenario } from '../../core/scenario.js';
import { scrape, sumOf } from '../../loadtest/scrape.js';
import { getJson } from '../helpers/http.js';

/**
 * A live host on real sockets whose event loop is stalled while two requests run: the model's
 * account of each (the JSON answer) is what the model says on time, whatever the stall; only the
 * answer leaves later, and the host reports that lateness. No wall-clock bound is asserted.
 */

const scenario = parseScenario({
  name: 'stall-test',
  hosts: [{ name: 'h', cores: 1, memoryMb: 8192 }],
  vms: [{ name: 'r', host: 'h', vcpus: 1, virtualization: 'container' }],
  workload: {
    classes: [
      { name: 'short', share: 0.5, route: '/short', cpuMs: 10, ioOps: 0, pageTableUpdates: 0, service: 'deterministic' },
      { name: 'long', share: 0.5, route: '/long', cpuMs: 100, ioOps: 0, pageTableUpdates: 0, service: 'deterministic' },
    ],
  },
});

let host: RunningHost;
beforeAll(async () => {
  host = await startHost({ scenario, hostName: 'h', port: 'auto' });
});
afterAll(async () => {
  await host?.close(200);
});

function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('a live host under a stalled event loop', () => {
  it('each request is charged exactly its own work; the stall shows as timer lateness, not as service', async () => {
    const url = host.replicas[0].url;
    const short = getJson<ReplicaResponse>(`${url}/short`);
    const long = getJson<ReplicaResponse>(`${url}/long`);
    // Wait until both run in the model, then block the loop for longer than the short one needs.
    while (host.host.snapshot().vms[0].running < 2) await new Promise((resolve) => setImmediate(resolve));
    busyWait(150);
    const [s, l] = await Promise.all([short, long]);
    expect(s.status).toBe(200);
    expect(l.status).toBe(200);
    // A container adds no CPU overhead: each request's service is its native cost, to rounding,
    // and its time adds up (service + steal + queued + suspended = latency) in model time.
    expect(s.json.serviceMs).toBeCloseTo(10, 6);
    expect(l.json.serviceMs).toBeCloseTo(100, 6);
    for (const r of [s.json, l.json]) expect(r.serviceMs + r.stealMs + r.queuedMs + r.suspendedMs).toBeCloseTo(r.latencyMs, 6);
    // Sharing one vCPU, the short request took at most twice its work in the model (less if the
    // long one arrived a little later), however long the loop was stalled.
    expect(s.json.latencyMs).toBeLessThanOrEqual(20 + 1e-6);
    const samples = await scrape(`${url}/metrics`);
    expect(sumOf(samples, 'dispatchlab_host_timer_lateness_seconds_count')).toBeGreaterThan(0);
    // The stall is visible in the lateness: at least one timer fired well after its due time.
    expect(sumOf(samples, 'dispatchlab_host_timer_lateness_seconds_sum')).toBeGreaterThan(0.05);
  });
});
