import { describe, expect, it } from 'vitest';
import { loadScenario, policyLabel } from '../../core/scenario.js';
import { checkPolicySpecs } from '../../policies/index.js';
import { simulate } from '../../sim/simulation.js';

// Published results, reproduced from the scenario files shipped in scenarios/.

function byPolicy(report: ReturnType<typeof simulate>): Map<string, (typeof report.runs)[number]> {
  return new Map(report.runs.map((r) => [r.policy, r]));
}

describe('published results as scenarios', () => {
  it('one slow replica among eleven: p99 of peak-ewma < least-loaded < round-robin (Linkerd, 2016)', () => {
    const s = loadScenario('scenarios/linkerd-slow-replica.yaml', checkPolicySpecs);
    const runs = byPolicy(simulate(s, { requests: 40_000 }));
    const p99 = (p: string): number => runs.get(p)?.latencyMs.p99 ?? Number.NaN;
    expect(p99('peak-ewma')).toBeLessThan(p99('least-loaded'));
    expect(p99('least-loaded')).toBeLessThan(p99('round-robin'));
    // The reason: the slow replica gets its 1/11 under round robin and less under the others.
    const slowShare = (p: string): number => runs.get(p)?.backends.find((b) => b.id === 'slow')?.share ?? Number.NaN;
    expect(slowShare('round-robin')).toBeCloseTo(1 / 11, 2);
    expect(slowShare('peak-ewma')).toBeLessThan(slowShare('least-loaded'));
    expect(slowShare('least-loaded')).toBeLessThan(slowShare('round-robin'));
  });

  it('stale reported load herds with four dispatchers while power-of-two holds (Mitzenmacher 2000, Brooker)', () => {
    const s = loadScenario('scenarios/stale-herding.yaml', checkPolicySpecs);
    const policies = s.policies.filter((p) => ['least-loaded-stale', 'p2c-stale', 'p2c-in-flight', 'random'].includes(policyLabel(p)));
    const herd = byPolicy(simulate(s, { policies, requests: 40_000, dispatchers: 4 }));
    const mean = (p: string): number => herd.get(p)?.latencyMs.mean ?? Number.NaN;
    // Herding: worse than choosing at random, by several times.
    expect(mean('least-loaded-stale')).toBeGreaterThan(3 * mean('random'));
    expect(mean('p2c-in-flight')).toBeLessThan(mean('random'));
    // Power of two on the very same stale reports does not herd: within 1.5x of random.
    expect(mean('p2c-stale')).toBeLessThan(1.5 * mean('random'));
  });

  it('power of two on stale reports: far better than least-loaded, worse than random once the reports are 50 service times old; fresh reports help (Mitzenmacher 2000)', () => {
    const s = loadScenario('scenarios/stale-herding.yaml', checkPolicySpecs);
    const fresh = { name: 'power-of-two', label: 'p2c-fresh', options: { metric: 'reported', refreshMs: 0 } };
    const one = byPolicy(simulate(s, { policies: [...s.policies, fresh], requests: 40_000 }));
    const mean = (p: string): number => one.get(p)?.latencyMs.mean ?? Number.NaN;
    // docs/policies.md quotes these (one dispatcher): 478, 57, 33 and 16 ms.
    expect(mean('p2c-stale')).toBeLessThan(mean('least-loaded-stale') / 4);
    expect(mean('p2c-stale')).toBeGreaterThan(1.3 * mean('random'));
    expect(mean('p2c-fresh')).toBeLessThan(mean('random'));
    expect(mean('p2c-in-flight')).toBeLessThan(mean('random'));
  });
});
