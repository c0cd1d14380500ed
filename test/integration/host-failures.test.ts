import { afterAll, describe, expect, it } from 'vitest';
import { parseScenario } from '../../core/scenario.js';
import { startHost, type RunningHost } from '../../backends/host-server.js';
import type { ReplicaResponse } from '../../backends/replica-app.js';
import { resolveCostModel } from '../../backends/hypervisor/cost-model.js';
import { migrationPlan } from '../../backends/hypervisor/migration.js';
import { getJson, http } from '../helpers/http.js';

/**
 * What a replica looks like from outside when the model takes its VM away, on real sockets: a
 * harvested VM whose Condor owner comes back is suspended (health 503, requests wait and then finish),
 * a live-migrating VM is away only for its stop-and-copy, a crashed VM refuses (health 503,
 * connections dropped) until the fault ends.
 */

// The owner's and the fault's intervals are seconds long, so a busy machine's stalls cannot carry a
// test past them before it looks (the suspension must be seen, the crash must be met).
const scenario = parseScenario({
  name: 'failures-test',
  hosts: [
    { name: 'host-c', cores: 1, memoryMb: 4096, owner: [{ at: 300, for: 4000 }], onOwnerReturn: 'suspend' },
    { name: 'host-d', cores: 1, memoryMb: 4096 },
    { name: 'host-e', cores: 1, memoryMb: 4096, owner: [{ at: 300, for: 5000 }], onOwnerReturn: 'migrate', migrate: 'live' },
  ],
  vms: [
    { name: 'harvested', host: 'host-c', harvested: true },
    { name: 'fragile', host: 'host-d' },
    { name: 'mover', host: 'host-e', harvested: true, memoryMb: 256 },
  ],
  // Live migration of 256 MB at 1 ms per MB against 100 MB/s of dirtying: about 284 ms of pre-copy
  // (256, 25.6, 2.56 MB), then 400 ms down (resumeMs plus the last 0.26 MB).
  costModel: { migration: { msPerGb: 1024, live: { dirtyMbPerS: 100, stopCopyMb: 1, resumeMs: 400 } } },
  workload: { classes: [{ name: 'page', share: 1, route: '/', cpuMs: 20, service: 'deterministic' }] },
  faults: [{ at: 0, for: 4000, vm: 'fragile', kind: 'crash' }],
});

// Each test starts its own host: owner intervals and faults count from the host's start.
const started: RunningHost[] = [];
async function start(hostName: string): Promise<RunningHost> {
  const h = await startHost({ scenario, hostName, port: 'auto' });
  started.push(h);
  return h;
}

afterAll(async () => {
  await Promise.all(started.map((h) => h.close(200)));
});

const health = async (h: RunningHost): Promise<number> => (await http(`${h.replicas[0].url}/healthz`)).status;

describe('replicas of VMs the model takes away', () => {
  it('a crashed VM drops connections and fails health checks until the fault ends', async () => {
    const hostD = await start('host-d');
    const target = hostD.replicas[0].url;
    await expect(http(`${target}/page`)).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(await health(hostD)).toBe(503);
    expect((await http(hostD.metricsUrl)).text).toContain('dispatchlab_vm_up{host="host-d",vm="fragile"} 0');

    await expect.poll(() => health(hostD), { timeout: 30_000, interval: 50 }).toBe(200);
    expect((await http(`${target}/page`)).status).toBe(200);
  });

  it('a live-migrating VM serves during pre-copy, then is down only for its stop-and-copy', async () => {
    const hostE = await start('host-e');
    const target = hostE.replicas[0].url;
    const plan = migrationPlan(256, 'live', resolveCostModel(scenario.costModel).migration);
    expect(plan.downtimeMs).toBeCloseTo(400.256, 9);
    await expect.poll(() => health(hostE), { timeout: 10_000, interval: 20 }).toBe(503);
    const res = await getJson<ReplicaResponse>(`${target}/page`);
    expect(res.status).toBe(200);
    // It waited for the rest of the downtime, never longer (on wall time the model's clock readings
    // may sit a fraction of a millisecond off).
    expect(res.json.suspendedMs).toBeGreaterThan(0);
    expect(res.json.suspendedMs).toBeLessThanOrEqual(plan.downtimeMs + 1);
    // The owner is still there (5 s): only the migration's downtime took the VM away.
    expect(await health(hostE)).toBe(200);
  });

  it('a suspended VM fails health checks while its requests wait, then finish', async () => {
    const hostC = await start('host-c');
    const target = hostC.replicas[0].url;
    await expect.poll(() => health(hostC), { timeout: 10_000, interval: 20 }).toBe(503);
    const res = await getJson<ReplicaResponse>(`${target}/page`);
    expect(res.status).toBe(200);
    expect(res.json.suspendedMs).toBeGreaterThan(0);
    expect(res.json.latencyMs).toBeGreaterThanOrEqual(res.json.suspendedMs);
    expect(await health(hostC)).toBe(200);
  });
});
