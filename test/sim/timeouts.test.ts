import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../core/scenario.js';
import { simulatePolicy } from '../../sim/simulation.js';

/**
 * The dispatcher's timeouts in the simulator, as the live dispatcher enforces them (the same
 * DeadlineQueue; test/integration/dispatcher-timeouts.test.ts is the live twin): an attempt whose
 * VM is silent past `upstreamMs` is cut off with 504 and counted against its backend; a request
 * older than `totalMs` is answered 504 wherever it is, in the queue included.
 */

function scenario(cpuMs: number, timeouts: { upstreamMs: number; totalMs: number }, dispatcher: Record<string, unknown> = {}) {
  return parseScenario({
    name: 'sim-timeouts',
    hosts: [{ name: 'h1', cores: 2, memoryMb: 4096 }],
    vms: [{ name: 'r1', host: 'h1', vcpus: 1, memoryMb: 512 }],
    workload: { classes: [{ name: 'page', share: 1, route: '/', cpuMs, ioOps: 0, pageTableUpdates: 0, service: 'deterministic' }], arrival: { rateRps: 2 } },
    dispatcher: { timeouts, ...dispatcher },
    policies: ['round-robin'],
    duration: '20s',
    warmup: '0s',
  });
}

describe('timeouts in virtual time', () => {
  it('answers 504 when the VM is silent past the upstream timeout, counted against the backend', () => {
    const run = simulatePolicy(scenario(3000, { upstreamMs: 150, totalMs: 10_000 }), 'round-robin');
    expect(run.requests).toBeGreaterThan(10);
    // Every request needs 3 s of CPU: each one is cut off at 150 ms.
    expect(run.errorsByCode).toEqual({ timeout: run.requests });
    expect(run.backends[0].errors).toBe(run.requests);
    // A cut-off request's job is cancelled: the VM never runs more than one at a time.
    expect(run.vms?.[0].cpuSeconds ?? 0).toBeLessThan(0.15 * run.requests + 0.001);
  });

  it('answers 504 when the total timeout passes first, and when it passes in the queue', () => {
    const onVm = simulatePolicy(scenario(3000, { upstreamMs: 10_000, totalMs: 150 }), 'round-robin');
    expect(onVm.errorsByCode).toEqual({ timeout: onVm.requests });
    // One slot: the second request of a burst waits in the queue and times out there (504, no backend).
    const queued = simulatePolicy(
      scenario(120, { upstreamMs: 10_000, totalMs: 150 }, { maxConnPerBackend: 1, queue: { maxLength: 100, timeoutMs: 10_000 } }),
      'round-robin',
    );
    expect(queued.errorsByCode?.timeout ?? 0).toBeGreaterThan(0);
    expect(queued.requests - (queued.errorsByCode?.timeout ?? 0)).toBeGreaterThan(0);
  });

  it('a generous timeout changes nothing: the same run as without one', () => {
    const fast = simulatePolicy(scenario(50, { upstreamMs: 10_000, totalMs: 30_000 }), 'round-robin');
    const unbounded = simulatePolicy(scenario(50, { upstreamMs: 3_600_000, totalMs: 3_600_000 }), 'round-robin');
    expect(fast.errors).toBe(0);
    expect(fast.requests).toBe(unbounded.requests);
    expect(fast.latencyMs).toEqual(unbounded.latencyMs);
  });
});
