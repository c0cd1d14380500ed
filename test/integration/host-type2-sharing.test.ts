import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseScenario } from '../../core/scenario.js';
import { startHost, type RunningHost } from '../../backends/host-server.js';
import type { ReplicaResponse } from '../../backends/replica-app.js';
import { getJson } from '../helpers/http.js';

/**
 * Type 2 sharing on real sockets, the same model the simulator runs (test/hypervisor/sharing.test.ts
 * pins the numbers on the virtual clock): a 4-vCPU VM beside host load 3 on 4 cores, weighed per
 * runnable vCPU thread on one host and once per VM process on the other. Assertions use the model's
 * own account of each request (stealMs, serviceMs), not wall time.
 */

const host = (name: string, type2Sharing: string): Record<string, unknown> => ({ name, hypervisor: 'type2', cores: 4, memoryMb: 8192, hostLoad: 3, type2Sharing });
const scenario = parseScenario({
  name: 'type2-sharing-test',
  hosts: [host('per-thread', 'per-thread'), host('per-process', 'per-process')],
  vms: [
    { name: 'threads', host: 'per-thread', vcpus: 4, memoryMb: 1024, virtualization: 'container' },
    { name: 'process', host: 'per-process', vcpus: 4, memoryMb: 1024, virtualization: 'container' },
  ],
  workload: { classes: [{ name: 'page', share: 1, route: '/', cpuMs: 200, service: 'deterministic' }] },
});

let hosts: RunningHost[] = [];
beforeAll(async () => {
  hosts = await Promise.all(['per-thread', 'per-process'].map((hostName) => startHost({ scenario, hostName, port: 'auto' })));
});
afterAll(async () => {
  await Promise.all(hosts.map((h) => h.close(200)));
});

/** Four requests at once to the host's VM; the mean of steal over service, as the model accounted. */
async function stealRatio(h: RunningHost): Promise<number> {
  const all = await Promise.all(Array.from({ length: 4 }, () => getJson<ReplicaResponse>(`${h.replicas[0].url}/page`)));
  return all.reduce((sum, r) => sum + r.json.stealMs / r.json.serviceMs, 0) / all.length;
}

describe('Type 2 sharing, live', () => {
  it('a VM weighed per vCPU thread steals far less beside the host load than one weighed once', async () => {
    const [perThread, perProcess] = [await stealRatio(hosts[0]), await stealRatio(hosts[1])];
    // With all four running at once: 3/4 per thread (16/7 cores for 4 threads), 3 per process (1 core).
    expect(perThread).toBeLessThan(0.76);
    expect(perProcess).toBeGreaterThan(2 * perThread);
  });
});
