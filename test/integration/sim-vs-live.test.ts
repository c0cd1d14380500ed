import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../core/scenario.js';
import { runCompare } from '../../loadtest/compare.js';
import { simulate } from '../../sim/simulation.js';

/**
 * Live and simulated are one system: one small scenario through `compare` (real HTTP on 127.0.0.1,
 * the hypervisor model on the system clock) and through `simulate` (virtual time). The test
 * compares what both runs planned and decided, which no machine's speed can change: the seeded
 * arrivals (the generators share stream names) and the Balancer's picks (round robin over the
 * same arrivals). How fast the live path is belongs to `npm run bench:*`, not here; the one timing
 * assertion is a lower bound that a slow machine only makes safer.
 */
const scenario = parseScenario({
  name: 'sim-vs-live',
  seed: 9,
  hosts: [{ name: 'h', cores: 2, memoryMb: 4096 }],
  vms: [{ name: 'web', count: 2, host: 'h', vcpus: 1, memoryMb: 512, virtualization: 'container' }],
  costModel: { techniques: { container: { cpuFactor: 1, ioOpUs: 0 } } },
  workload: { sessions: 0, classes: [{ name: 'page', share: 1, route: '/', cpuMs: 50, service: 'deterministic' }], arrival: { rateRps: 12 } },
  // A probe stalled by a busy machine must not take a replica out (that would change the picks);
  // the simulator runs the same probes with the same settings.
  dispatcher: { healthCheck: { intervalMs: 1000, timeoutMs: 10_000 } },
  policies: ['round-robin'],
  duration: '6s',
  warmup: '1s',
});

describe('simulate vs compare', () => {
  it('plans the same arrivals and makes the same picks; live is never faster than the model it runs', async () => {
    const live = (await runCompare({ scenario })).runs[0];
    const sim = simulate(scenario).runs[0];
    expect(live.errors).toBe(0);
    expect(sim.errors).toBe(0);
    // The same seeded arrivals. The live generator starts its measured window with a fresh draw
    // (the warm-up's last, which falls past its end, is not carried over), so the windows may
    // differ by an arrival at each edge.
    expect(sim.requests).toBeGreaterThan(40);
    expect(Math.abs(live.requests - sim.requests)).toBeLessThanOrEqual(2);
    // The same picks: round robin alternates over the same arrivals, live and simulated.
    const picks = (run: typeof live): number[] => ['web-1', 'web-2'].map((id) => run.backends.find((b) => b.id === id)?.requests ?? 0);
    const [live1, live2] = picks(live);
    const [sim1, sim2] = picks(sim);
    expect(live1 + live2).toBe(live.requests);
    expect(Math.abs(live1 - live2)).toBeLessThanOrEqual(1);
    expect(Math.abs(sim1 - sim2)).toBeLessThanOrEqual(1);
    expect(Math.abs(live1 - sim1)).toBeLessThanOrEqual(2);
    // Every request costs 50 ms of CPU in both; HTTP and late timers only add to it live.
    expect(sim.latencyMs.p50).toBeGreaterThanOrEqual(50);
    expect(live.latencyMs.p50).toBeGreaterThanOrEqual(sim.latencyMs.p50 * 0.98);
  });
});
