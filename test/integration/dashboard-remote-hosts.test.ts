import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type RunningHost } from '../../backends/host-server.js';
import { parseScenario } from '../../core/scenario.js';
import type { DashboardFrame } from '../../dispatcher/admin-api.js';
import { startDispatcher, type RunningDispatcher } from '../../dispatcher/dispatcher-service.js';
import { ADMIN_TOKEN } from './dispatcher-helpers.js';

/**
 * The dashboard's fleet where the hosts run as their own servers (`dispatchlab host`, compose): the
 * dispatcher reads each host's state from its /metrics on a replica port, so VM states, host load
 * and CPU show without the models in its process; the fault controls, which need the models,
 * answer 501.
 */

const scenario = parseScenario({
  name: 'remote-dashboard',
  hosts: [
    { name: 'h1', cores: 2, memoryMb: 4096 },
    { name: 'h2', hypervisor: 'type2', cores: 2, memoryMb: 4096, hostLoad: 0.5 },
  ],
  vms: [
    { name: 'r1', host: 'h1', vcpus: 1, memoryMb: 512 },
    { name: 'r2', host: 'h2', vcpus: 1, memoryMb: 512 },
    { name: 'noisy', host: 'h2', vcpus: 1, memoryMb: 512, serves: false, background: { cpuCores: 1 } },
  ],
  workload: { classes: [{ name: 'page', share: 1, route: '/', cpuMs: 1, service: 'deterministic' }] },
  policies: ['round-robin'],
});

let hosts: RunningHost[];
let dispatcher: RunningDispatcher;

beforeAll(async () => {
  hosts = [await startHost({ scenario, hostName: 'h1', port: 'auto' }), await startHost({ scenario, hostName: 'h2', port: 'auto' })];
  dispatcher = await startDispatcher({
    settings: scenario.dispatcher,
    backends: hosts.flatMap((h) => h.replicas.map((r) => ({ id: r.vm, url: r.url, host: h.host.name }))),
    policy: 'round-robin',
    adminToken: ADMIN_TOKEN,
    healthChecks: false,
    fleet: { scenario },
  });
});
afterAll(async () => {
  await dispatcher?.close();
  await Promise.all((hosts ?? []).map((h) => h.close(0)));
});

async function frame(): Promise<DashboardFrame> {
  return (await (await fetch(`${dispatcher.adminUrl}/dashboard.json`)).json()) as DashboardFrame;
}
const vmOf = (f: DashboardFrame, name: string) => f.fleet.hosts.flatMap((h) => h.vms).find((v) => v.name === name);

describe('the dashboard with hosts in other processes', () => {
  it("reads every host's VMs, their states, host load and CPU from the hosts' /metrics", async () => {
    const first = await frame();
    expect(first.fleet.controls).toBe(false);
    expect(first.fleet.hosts.map((h) => [h.name, h.reachable, h.vms.map((v) => `${v.name}:${v.status}`)])).toEqual([
      ['h1', true, ['r1:running']],
      ['h2', true, ['r2:running', 'noisy:running']],
    ]);
    expect(first.fleet.hosts[1].hostLoad).toBe(0.5);
    // The neighbour's background thread keeps a core busy: a rate shows once two readings exist.
    await expect.poll(async () => vmOf(await frame(), 'noisy')?.cpuCores ?? 0, { timeout: 10_000 }).toBeGreaterThan(0.5);
  });

  it("follows the model's changes: a crash and a new host load", async () => {
    hosts[0].host.crash('r1');
    hosts[1].host.setHostLoad(1.5);
    const f = await frame();
    expect(vmOf(f, 'r1')?.status).toBe('crashed');
    expect(f.fleet.hosts[1].hostLoad).toBe(1.5);
    hosts[0].host.restore('r1');
    expect(vmOf(await frame(), 'r1')?.status).toBe('running');
  });

  it('answers 501 to the fault controls, which need the models in this process', async () => {
    const res = await fetch(`${dispatcher.adminUrl}/vms/r1/crash`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(res.status).toBe(501);
  });

  it('marks a host it cannot reach', async () => {
    await hosts[0].close(0);
    const f = await frame();
    expect(f.fleet.hosts.find((h) => h.name === 'h1')).toMatchObject({ reachable: false });
    expect(vmOf(f, 'r1')?.status).toBeUndefined();
  });
});
