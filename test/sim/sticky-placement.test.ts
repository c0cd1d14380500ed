import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../core/scenario.js';
import { simulatePolicy } from '../../sim/simulation.js';

// Session-sticky's placements in virtual time: the same sessions, starting in the same order, land
// on the same replicas whatever the load, because the bound counts sessions per replica, not
// requests in flight (test/integration/parity.test.ts is the live twin: live with a dozen requests
// in flight against simulated with none). At 20 req/s nothing is in flight when a session starts;
// at 370 req/s (utilisation 0.93) several requests are, and a count that differs by one would
// otherwise send a session elsewhere.

function fleetAt(rateRps: number) {
  return parseScenario({
    name: 'sticky-placement',
    seed: 5,
    hosts: [{ name: 'h', cores: 4, memoryMb: 65536 }],
    vms: [{ name: 'web', count: 4, host: 'h', vcpus: 1, memoryMb: 1024, virtualization: 'container' }],
    costModel: { techniques: { container: { cpuFactor: 1, ioOpUs: 0 } } },
    workload: { classes: [{ name: 'page', share: 1, cpuMs: 10, service: 'exponential' }], sessions: 300, arrival: { rateRps } },
    duration: '10m',
    warmup: '0s',
  });
}

/** Where each session's requests went (session key -> backends, in request order), and the run's mean latency. */
function placements(rateRps: number): { homes: Map<string, string[]>; meanMs: number } {
  const homes = new Map<string, string[]>();
  const run = simulatePolicy(fleetAt(rateRps), 'session-sticky', {
    requests: 4000,
    onAttemptEnded: (info, backend) => {
      const key = info.sessionKey as string;
      homes.set(key, [...(homes.get(key) ?? []), backend]);
    },
  });
  return { homes, meanMs: run.latencyMs.mean };
}

describe('session-sticky placement in the simulator', () => {
  it('puts every session on the same replica at 20 and at 370 req/s, and keeps it there', () => {
    const quiet = placements(20);
    const busy = placements(370);
    // Busy: requests wait behind others (a mean several times the 10 ms of CPU), so the in-flight
    // counts at each placement differ from the quiet run's zeros.
    expect(busy.meanMs).toBeGreaterThan(3 * quiet.meanMs);
    expect(quiet.homes.size).toBe(300);
    expect(busy.homes).toEqual(quiet.homes);
    for (const backends of busy.homes.values()) expect(new Set(backends).size).toBe(1);
  });
});
