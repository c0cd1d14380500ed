import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../core/scenario.js';
import { simulate, simulatePolicy } from '../../sim/simulation.js';

// Herding, in virtual time: each of K dispatchers sees only its own in-flight requests (the
// simulator's `--dispatchers K`, the live dispatcher's `--workers K`: test/integration/
// dispatcher-workers.test.ts is the live twin). Four one-vCPU replicas and four closed-loop
// clients with a fixed 10 ms of CPU each: one least-loaded dispatcher always finds an idle replica,
// so no request ever shares one; two dispatchers each send to the replica they believe idle, and
// some requests land on a replica the other dispatcher keeps busy.

const SERVICE_MS = 10;

function fourReplicas() {
  return parseScenario({
    name: 'herding',
    seed: 7,
    hosts: [{ name: 'h', cores: 4, memoryMb: 65536 }],
    vms: [{ name: 'web', count: 4, host: 'h', vcpus: 1, memoryMb: 1024, virtualization: 'container' }],
    costModel: { techniques: { container: { cpuFactor: 1, ioOpUs: 0 } } },
    workload: { classes: [{ name: 'page', share: 1, cpuMs: SERVICE_MS, service: 'deterministic' }], sessions: 0, arrival: { connections: 4 } },
    policies: ['least-loaded'],
    duration: '20s',
    warmup: '1s',
  });
}

describe('least-loaded with several dispatchers (herding)', () => {
  it('one dispatcher never puts two requests on one replica; two dispatchers do', () => {
    const one = simulatePolicy(fourReplicas(), 'least-loaded', { dispatchers: 1 });
    const two = simulatePolicy(fourReplicas(), 'least-loaded', { dispatchers: 2 });
    expect(one.errors).toBe(0);
    expect(two.errors).toBe(0);
    // Alone on its vCPU, a request takes exactly its CPU time.
    expect(one.latencyMs.max).toBeCloseTo(SERVICE_MS, 6);
    // Two on one vCPU share it: each takes twice as long.
    expect(two.latencyMs.max).toBeCloseTo(2 * SERVICE_MS, 6);
    expect(two.latencyMs.mean).toBeGreaterThan(one.latencyMs.mean * 1.05);
    // Fewer answers in the same virtual time: the collisions leave replicas idle meanwhile.
    expect(two.throughputRps).toBeLessThan(one.throughputRps);
  });

  it('has no dispatcher process to measure: the report says why instead of a CPU share', () => {
    const report = simulate(fourReplicas(), { dispatchers: 2, requests: 100 });
    expect(report.environment?.dispatcherCpu).toEqual({ notApplicable: expect.stringMatching(/^virtual time/) });
  });
});
