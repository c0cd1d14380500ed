import { describe, expect, it } from 'vitest';
import { parseScenario, type Scenario } from '../../core/scenario.js';
import { simulatePolicy } from '../../sim/simulation.js';

// Outlier ejection ended by a passing health check, and panic mode, in virtual time: the same
// Balancer code as live (test/balancer/panic.test.ts), driven by the simulator's prober model.

function fourReplicas(overrides: Record<string, unknown> = {}): Scenario {
  return parseScenario({
    name: 'four',
    seed: 7,
    hosts: [{ name: 'h', cores: 4, memoryMb: 16384 }],
    vms: [{ name: 'web', count: 4, host: 'h', vcpus: 1, memoryMb: 1024, virtualization: 'container' }],
    costModel: { techniques: { container: { cpuFactor: 1, ioOpUs: 0 } } },
    workload: { classes: [{ name: 'page', share: 1, cpuMs: 5, service: 'exponential' }], sessions: 50, arrival: { rateRps: 400 } },
    policies: ['round-robin'],
    duration: '20s',
    warmup: '1s',
    ...overrides,
  });
}

const requestsOf = (run: ReturnType<typeof simulatePolicy>, id: string): number => run.backends.find((b) => b.id === id)?.requests ?? 0;
const errorsOf = (run: ReturnType<typeof simulatePolicy>, id: string): number => run.backends.find((b) => b.id === id)?.errors ?? 0;

describe('simulate: ejection and panic', () => {
  it('a VM ejected during a 2 s crash is back within a health-check interval of recovering, not after the 30 s ejection', () => {
    const s = fourReplicas({ faults: [{ at: '5s', for: '2s', vm: 'web-1', kind: 'crash' }], dispatcher: { retries: 1 } });
    const run = simulatePolicy(s, 'round-robin');
    expect(run.errors).toBe(0);
    // Ejected once (the crash was too short for the health checks to mark it down).
    expect(errorsOf(run, 'web-1')).toBe(5);
    // Round robin gives it a quarter of 19 s x 400 rps = 1900 when it is in rotation: it misses
    // about 3 s (5 s to 8 s), not the 15 s left of the run a 30 s ejection would take.
    expect(requestsOf(run, 'web-1')).toBeGreaterThan(1400);
    expect(requestsOf(run, 'web-1')).toBeLessThan(1800);
  });

  it('with three of four VMs down, panic keeps sending them traffic; panicThreshold 0 sends it all to the last one', () => {
    const faults = ['web-1', 'web-2', 'web-3'].map((vm) => ({ at: '5s', for: '6s', vm, kind: 'crash' }));
    const dispatcher = { retries: 1, outlier: { consecutiveErrors: 1_000_000 }, healthCheck: { intervalMs: 1000, fall: 2, rise: 1 } };
    const panic = simulatePolicy(fourReplicas({ faults, dispatcher: { ...dispatcher, panicThreshold: 0.5 } }), 'round-robin');
    const noPanic = simulatePolicy(fourReplicas({ faults, dispatcher: { ...dispatcher, panicThreshold: 0 } }), 'round-robin');
    // Without panic, web-1 fails only until the health checks mark it down: 2 s of its 100 rps,
    // plus retries of the other crashed VMs' failures that land on it.
    expect(errorsOf(noPanic, 'web-1')).toBeLessThan(400);
    // In panic it keeps taking traffic for the whole 6 s crash.
    expect(errorsOf(panic, 'web-1')).toBeGreaterThan(600);
    expect(requestsOf(noPanic, 'web-4')).toBeGreaterThan(requestsOf(panic, 'web-4'));
  });
});
