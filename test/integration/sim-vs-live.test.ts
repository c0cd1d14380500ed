import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../core/scenario.js';
import { runCompare } from '../../loadtest/compare.js';
import { simulate } from '../../sim/simulation.js';

/**
 * Live and simulated agree: one small scenario at moderate load through `compare` (real HTTP on
 * 127.0.0.1, the hypervisor model on the system clock) and through `simulate` (virtual time). Both
 * draw the same seeded arrivals (the generators share stream names), round robin assigns them the
 * same way, and the service time is deterministic, so what separates the two means is what the live
 * path adds: HTTP through the dispatcher, the load generator's process, and timer lateness. The
 * test prints that overhead; the service time (50 ms) is chosen large beside it.
 */
const scenario = parseScenario({
  name: 'sim-vs-live',
  seed: 9,
  hosts: [{ name: 'h', cores: 2, memoryMb: 4096 }],
  vms: [{ name: 'web', count: 2, host: 'h', vcpus: 1, memoryMb: 512, virtualization: 'container' }],
  costModel: { techniques: { container: { cpuFactor: 1, ioOpUs: 0 } } },
  workload: { sessions: 0, classes: [{ name: 'page', share: 1, route: '/', cpuMs: 50, service: 'deterministic' }], arrival: { rateRps: 12 } },
  policies: ['round-robin'],
  duration: '6s',
  warmup: '1s',
});

describe('simulate vs compare', () => {
  it('gives mean latencies within 15% on the same scenario at utilisation 0.3', async () => {
    const live = await runCompare({ scenario });
    const sim = simulate(scenario);
    const liveRun = live.runs[0];
    const simRun = sim.runs[0];
    expect(liveRun.errors).toBe(0);
    expect(simRun.errors).toBe(0);
    // The same arrivals: the same number of requests in the measured window, give or take the edges.
    expect(Math.abs(liveRun.requests - simRun.requests)).toBeLessThanOrEqual(2);
    const overheadMs = liveRun.latencyMs.mean - simRun.latencyMs.mean;
    process.stdout.write(
      `sim-vs-live: live mean ${liveRun.latencyMs.mean.toFixed(2)} ms, simulated ${simRun.latencyMs.mean.toFixed(2)} ms: ` +
        `the live path adds ${overheadMs.toFixed(2)} ms (${((100 * overheadMs) / simRun.latencyMs.mean).toFixed(1)}%)\n`,
    );
    expect(Math.abs(overheadMs) / simRun.latencyMs.mean).toBeLessThan(0.15);
    // Live is never faster than the model it runs (the model is the same; HTTP only adds).
    expect(liveRun.latencyMs.p50).toBeGreaterThanOrEqual(simRun.latencyMs.p50 * 0.98);
  });
});
