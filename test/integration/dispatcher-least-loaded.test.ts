import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseScenario } from '../../core/scenario.js';
import { startUp, type RunningUp } from '../../dispatcher/local-fleet.js';
import { get } from './dispatcher-helpers.js';

/**
 * r1 shares a 1-core host with a busy background VM of weight 9, so the hypervisor gives r1 a
 * tenth of the core: a request takes it 200 ms against r2's 20 ms on a core of its own.
 * Least-loaded (in-flight) must notice r1's requests piling up and send it clearly fewer than half.
 * The gap is made wide so that what a busy machine adds to every request (HTTP, late timers)
 * cannot close it; the health checks' timeout is beyond any stall, so a late probe answer never
 * takes a replica out.
 */
const scenario = parseScenario({
  name: 'noisy-neighbour-test',
  hosts: [
    { name: 'busy', cores: 1, memoryMb: 4096 },
    { name: 'quiet', cores: 1, memoryMb: 4096 },
  ],
  vms: [
    { name: 'r1', host: 'busy', vcpus: 1, memoryMb: 512 },
    { name: 'noisy', host: 'busy', vcpus: 1, memoryMb: 512, weight: 9, serves: false, background: { cpuCores: 1 } },
    { name: 'r2', host: 'quiet', vcpus: 1, memoryMb: 512 },
  ],
  workload: { classes: [{ name: 'page', share: 1, route: '/', cpuMs: 20, service: 'deterministic' }] },
  dispatcher: { healthCheck: { intervalMs: 1000, timeoutMs: 10_000 } },
  policies: ['least-loaded'],
});

let up: RunningUp;
beforeAll(async () => {
  up = await startUp({ scenario, policy: 'least-loaded' });
});
afterAll(async () => {
  await up?.close();
});

describe('least-loaded on real sockets', () => {
  it('steers away from a replica whose neighbour is busy', async () => {
    const total = 120;
    let sent = 0;
    const served: Record<string, number> = {};
    const worker = async (): Promise<void> => {
      while (sent < total) {
        sent++;
        const answer = await get(`${up.dispatcher.url}/page`);
        expect(answer.status).toBe(200);
        served[answer.servedBy!] = (served[answer.servedBy!] ?? 0) + 1;
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    const r1Share = (served.r1 ?? 0) / total;
    // Round robin would give exactly 0.5; six clients on a 10:1 gap put well under 0.2 on r1.
    expect(r1Share).toBeLessThan(0.38);
    expect(served.r1 ?? 0).toBeGreaterThan(0);
  });
});
