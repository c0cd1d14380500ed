import { describe, expect, it } from 'vitest';
import type { PolicyRun } from '../../core/report.js';
import { parseScenario } from '../../core/scenario.js';
import { runCompare } from '../../loadtest/compare.js';
import { simulate } from '../../sim/simulation.js';

/**
 * One accounting (issue 11, point 5): a live run and `simulate` of the same scenario count the
 * same events the same way. The scenario makes every count decided rather than timed: web-1 is
 * crashed for the whole run and never detected (health checks an hour apart, no outlier
 * ejection), each request is placed by hashing its path (two routes, drawn from the seed), so a
 * request whose route lives on web-1 fails there and is retried on web-2, whatever the timing. No
 * warm-up, so both modes measure the seed's arrivals from the first one.
 */
const scenario = parseScenario({
  name: 'one-accounting',
  seed: 4,
  hosts: [{ name: 'h', cores: 2, memoryMb: 4096 }],
  vms: [{ name: 'web', count: 2, host: 'h', vcpus: 1, memoryMb: 512, virtualization: 'container' }],
  costModel: { techniques: { container: { cpuFactor: 1, ioOpUs: 0 } } },
  workload: {
    sessions: 0,
    classes: [
      { name: 'a', share: 0.5, route: '/a', cpuMs: 2, service: 'deterministic' },
      { name: 'b', share: 0.5, route: '/b', cpuMs: 2, service: 'deterministic' },
    ],
    arrival: { rateRps: 40 },
  },
  faults: [{ at: 0, for: '1h', vm: 'web-1', kind: 'crash' }],
  dispatcher: {
    retries: 1,
    retryBudget: { ratio: 1, minPerSecond: 1000 },
    outlier: { consecutiveErrors: 1_000_000 },
    healthCheck: { intervalMs: '1h', fall: 2 },
  },
  policies: [{ name: 'consistent-hash', options: { key: 'request' } }],
  duration: '3s',
  warmup: 0,
});

/** The counts that are decided by the scenario and its seed, not by timing. */
function decided(run: PolicyRun): unknown {
  return {
    requests: run.requests,
    errors: run.errors,
    retries: run.retries,
    errorsByCode: run.errorsByCode,
    backends: run.backends.map((b) => ({ id: b.id, requests: b.requests, errors: b.errors })),
    throughputRps: run.throughputRps,
  };
}

describe('one accounting, live and simulated', () => {
  it('counts requests, retries, per-backend attempts and failures, errors and throughput identically', async () => {
    const sim = simulate(scenario).runs[0];
    const live = (await runCompare({ scenario })).runs[0];
    // The scenario does what it is meant to: web-1 fails every attempt, each one retried on web-2.
    const web1 = sim.backends.find((b) => b.id === 'web-1');
    expect(sim.retries).toBeGreaterThan(10);
    expect(web1?.requests).toBe(sim.retries);
    expect(web1?.errors).toBe(sim.retries);
    expect(sim.errors).toBe(0);
    expect(sim.throughputRps).toBe(sim.requests / 3);
    expect(decided(live)).toEqual(decided(sim));
  });
});
