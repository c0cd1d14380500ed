import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../core/scenario.js';
import { simulatePolicy } from '../../sim/simulation.js';

/**
 * The model's runtime controls (the dashboard's fault buttons, tested live in
 * test/integration/dashboard-browser.test.ts) in virtual time: the same calls on the simulator's
 * fleet, with the same health checks routing around the consequence.
 */

const scenario = parseScenario({
  name: 'controls',
  seed: 3,
  hosts: [{ name: 'h', hypervisor: 'type2', cores: 4, memoryMb: 16384 }],
  vms: [{ name: 'web', count: 4, host: 'h', vcpus: 1, memoryMb: 1024 }],
  workload: { classes: [{ name: 'page', share: 1, cpuMs: 5, service: 'exponential' }], arrival: { rateRps: 300 } },
  policies: ['round-robin'],
  duration: '12s',
  warmup: '2s',
});

/** Attempts the replica answered: its attempts less its failed ones (a crashed VM's attempts fail). */
const served = (run: ReturnType<typeof simulatePolicy>, id: string) => {
  const b = run.backends.find((x) => x.id === id);
  return b === undefined ? 0 : b.requests - (b.errors ?? 0);
};

describe('runtime controls in a simulation', () => {
  it('a VM crashed at the start of the measured window serves nothing more; retries and health checks send its share elsewhere', () => {
    const calm = simulatePolicy(scenario, 'round-robin');
    const crashed = simulatePolicy(scenario, 'round-robin', {
      atStart: (fleet, clock) => clock.schedule(scenario.warmup, () => fleet.hostOf('web-1').crash('web-1')),
    });
    expect(served(calm, 'web-1')).toBeGreaterThan(0.2 * calm.requests);
    expect(served(crashed, 'web-1')).toBe(0);
    for (const id of ['web-2', 'web-3', 'web-4']) expect(served(crashed, id)).toBeGreaterThan(served(calm, id));
    expect(crashed.errors).toBeLessThan(0.01 * crashed.requests);
  });

  it("host load added mid-run slows every replica: the host's OS takes cores from them", () => {
    const calm = simulatePolicy(scenario, 'round-robin');
    const loaded = simulatePolicy(scenario, 'round-robin', {
      atStart: (fleet, clock) => clock.schedule(scenario.warmup, () => fleet.host('h').setHostLoad(3.5)),
    });
    expect(loaded.latencyMs.mean).toBeGreaterThan(2 * calm.latencyMs.mean);
  });
});
