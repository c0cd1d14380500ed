import { describe, expect, it } from 'vitest';
import { simulatePolicy } from '../../src/sim/simulation.js';
import { theoryFor } from '../../src/sim/theory-block.js';
import { mmc, powerOfD, randomAssignment } from '../../src/sim/theory.js';
import { homogeneous, relativeError } from './fixtures.js';

// The simulator against queueing theory: seeded runs of the real Balancer, policies and hypervisor
// model on scenarios where the formulas hold exactly (fixtures.ts). Tolerances are the issue's.

describe('simulate vs queueing theory', () => {
  it('random over 10 1-vCPU replicas: mean response within 3% of M/M/1', () => {
    const s = homogeneous({ replicas: 10, utilisation: 0.7 });
    const run = simulatePolicy(s, 'random', { requests: 200_000 });
    const expected = randomAssignment(700, 10, 10).meanResponseMs;
    expect(run.errors).toBe(0);
    expect(relativeError(run.latencyMs.mean, expected)).toBeLessThan(0.03);
    expect(theoryFor(s).random?.meanResponseMs).toBeCloseTo(expected, 9);
  });

  // The mean queue wait converges slowly near saturation: over five seeds the wait's error was
  // within ±1.3% at 0.7 with 500,000 requests, and at 0.9 within ±2.0% with 2,000,000 and ±1.4% with
  // 4,000,000 requests, so these run lengths keep the 3% bound about two standard errors away.
  for (const [utilisation, requests] of [
    [0.7, 1_000_000],
    [0.9, 4_000_000],
  ]) {
    it(`maxConnPerBackend 1 with the dispatcher queue at utilisation ${utilisation}: M/M/c mean response and wait within 3%`, () => {
      const s = homogeneous({ replicas: 4, utilisation, maxConnPerBackend: 1 });
      const run = simulatePolicy(s, 'round-robin', { requests });
      const expected = mmc((utilisation * 4 * 1000) / 10, 10, 4);
      expect(run.errors).toBe(0);
      expect(relativeError(run.latencyMs.mean, expected.meanResponseMs)).toBeLessThan(0.03);
      expect(relativeError(run.queueWaitMs?.mean ?? 0, expected.meanWaitMs)).toBeLessThan(0.03);
    });
  }

  it('power-of-two on 100 replicas at utilisation 0.9: within 10% of the supermarket limit', () => {
    const s = homogeneous({ replicas: 100, utilisation: 0.9 });
    const run = simulatePolicy(s, 'power-of-two', { requests: 300_000 });
    const limit = powerOfD(9000, 10, 100, 2).meanResponseMs;
    // Finite n: measured about 1% BELOW the limit at n = 100 (25.8 vs 26.1 ms) and about 13% above
    // it at n = 10 (29.6 ms). The policy samples two distinct replicas; the supermarket model
    // samples with replacement, which at n = 100 wastes 1% of the choices on the same queue, and the
    // n -> infinity limit ignores the correlation between queues, which small fleets feel most.
    expect(relativeError(run.latencyMs.mean, limit)).toBeLessThan(0.1);
  });

  it('orders central queue <= least-loaded <= power-of-two < round-robin <= random at utilisation 0.9', () => {
    const opts = { requests: 100_000 };
    const mean = (policy: string, maxConnPerBackend = 0): number =>
      simulatePolicy(homogeneous({ replicas: 10, utilisation: 0.9, maxConnPerBackend }), policy, opts).latencyMs.mean;
    const central = mean('round-robin', 1);
    const leastLoaded = mean('least-loaded');
    const p2c = mean('power-of-two');
    const roundRobin = mean('round-robin');
    const random = mean('random');
    expect(central).toBeLessThanOrEqual(leastLoaded);
    expect(leastLoaded).toBeLessThanOrEqual(p2c);
    expect(p2c).toBeLessThan(roundRobin);
    expect(roundRobin).toBeLessThanOrEqual(random);
  });
});
