import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type RunningHost } from '../../backends/host-server.js';
import type { ReplicaResponse } from '../../backends/replica-app.js';
import { parseScenario } from '../../core/scenario.js';
import { RequestCosts } from '../../core/workload.js';
import { SimWorkload } from '../../sim/workload.js';
import { createRng } from '../../core/rng.js';
import { getJson } from '../helpers/http.js';

/**
 * Request i costs the same live and simulated (issue: "not the same work"): a live replica draws
 * request `?n=i`'s cost from (seed, i), as the simulator's workload does for its request i, on
 * whichever replica serves it. A container with no I/O adds nothing, so service = native CPU.
 */

const scenario = parseScenario({
  name: 'same-work',
  seed: 42,
  hosts: [{ name: 'h', cores: 4, memoryMb: 8192 }],
  vms: [{ name: 'web', count: 2, host: 'h', vcpus: 1, virtualization: 'container' }],
  workload: { classes: [{ name: 'page', share: 1, route: '/', cpuMs: 10, ioOps: 0, pageTableUpdates: 0, service: 'exponential' }] },
});

let host: RunningHost;
beforeAll(async () => {
  host = await startHost({ scenario, hostName: 'h', port: 'auto' });
});
afterAll(async () => {
  await host?.close(200);
});

describe('the same work live and simulated', () => {
  it("request n's service is the simulator's cost for request n, on either replica", async () => {
    const cls = scenario.workload.classes[0];
    const sim = new SimWorkload(scenario, createRng(scenario.seed));
    const costs = new RequestCosts(scenario.seed);
    for (const n of [0, 1, 7, 12345]) {
      const expectedMs = sim.costOf(cls, n, { cpuMs: 0, ioOps: 0, pageTableUpdates: 0, memoryMb: 0 }).cpuMs;
      expect(costs.of(cls, n).cpuMs).toBe(expectedMs);
      for (const replica of host.replicas) {
        const { json } = await getJson<ReplicaResponse>(`${replica.url}/page?n=${n}&s=3`);
        expect(json.serviceMs).toBeCloseTo(expectedMs, 9);
      }
    }
    // Distinct indices are distinct requests.
    expect(new Set([0, 1, 7, 12345].map((n) => costs.of(cls, n).cpuMs)).size).toBe(4);
  });
});
