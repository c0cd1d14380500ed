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

describe('a hung backend in virtual time: per-try timeouts are retried (issue 17)', () => {
  // r1 is harvested and its owner comes back for 4 s: suspended, it takes requests and answers
  // none, like a SIGSTOPped host live, until the health checks mark it down (intervalMs * fall).
  function hung(dispatcher: Record<string, unknown>) {
    return parseScenario({
      name: 'sim-hung',
      seed: 3,
      hosts: [{ name: 'h1', cores: 4, memoryMb: 4096, owner: [{ at: '3s', for: '4s' }], onOwnerReturn: 'suspend' }],
      vms: [
        { name: 'r1', host: 'h1', vcpus: 1, memoryMb: 512, harvested: true },
        { name: 'r2', host: 'h1', vcpus: 1, memoryMb: 512 },
      ],
      workload: { classes: [{ name: 'page', share: 1, route: '/', cpuMs: 2, service: 'exponential' }], arrival: { rateRps: 100 } },
      dispatcher: {
        timeouts: { upstreamMs: 300, totalMs: 5000 },
        healthCheck: { intervalMs: 1000, fall: 2, rise: 1 },
        outlier: { consecutiveErrors: 1_000_000 },
        retryBudget: { ratio: 1, minPerSecond: 100 },
        ...dispatcher,
      },
      policies: ['round-robin'],
      duration: '10s',
      warmup: '0s',
    });
  }

  it('every GET caught on the hung VM is answered by the live one after its per-try timeout', () => {
    const run = simulatePolicy(hung({ retries: 1 }), 'round-robin');
    expect(run.requests).toBeGreaterThan(900);
    expect(run.errors).toBe(0);
    // Round robin sends r1 half the traffic until the checks mark it down, ~1-2 s of 100 rps.
    expect(run.retries).toBeGreaterThan(40);
    expect(run.backends.find((b) => b.id === 'r1')?.errors).toBe(run.retries);
    // A saved request waited out its per-try timeout first.
    expect(run.latencyMs.max).toBeGreaterThanOrEqual(300);
  });

  it('without retries the same requests are lost to 504s, and a total timeout is never retried', () => {
    const noRetries = simulatePolicy(hung({ retries: 0 }), 'round-robin');
    expect(noRetries.errorsByCode?.timeout ?? 0).toBeGreaterThan(40);
    // The total timeout (200 ms) runs out before the per-try one: nothing is retried.
    const total = simulatePolicy(hung({ retries: 1, timeouts: { upstreamMs: 300, totalMs: 200 } }), 'round-robin');
    expect(total.retries).toBe(0);
    expect(total.errorsByCode?.timeout ?? 0).toBeGreaterThan(40);
  });

  it("retries only what `retryOn` names, through the same Balancer decision as live: without per-try-timeout they are lost", () => {
    const without = simulatePolicy(hung({ retries: 1, retryOn: ['connect-failure', 'reset', 'gateway-error'] }), 'round-robin');
    expect(without.retries).toBe(0);
    expect(without.errorsByCode?.timeout ?? 0).toBeGreaterThan(40);
    const withIt = simulatePolicy(hung({ retries: 1, retryOn: ['per-try-timeout'] }), 'round-robin');
    expect(withIt.errors).toBe(0);
    expect(withIt.retries).toBeGreaterThan(40);
  });
});
