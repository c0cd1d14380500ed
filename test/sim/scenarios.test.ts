import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../core/scenario.js';
import { checkPolicySpecs } from '../../policies/index.js';
import { simulate } from '../../sim/simulation.js';

// The shipped scenarios that are not published results: each shows what its header says.

describe('shipped scenarios', () => {
  it('condor-harvest: round robin strands requests on a suspended replica until health checks notice; load-aware policies do not', () => {
    const report = simulate(loadScenario('scenarios/condor-harvest.yaml', checkPolicySpecs));
    const p99 = (policy: string): number => report.runs.find((r) => r.policy === policy)?.latencyMs.p99 ?? Number.NaN;
    expect(p99('round-robin')).toBeGreaterThan(1000);
    expect(p99('least-loaded')).toBeLessThan(100);
    expect(p99('power-of-two')).toBeLessThan(100);
    for (const run of report.runs) {
      // The owner's 15 s interval bounds every wait: suspended, not lost.
      expect(run.latencyMs.max).toBeLessThan(15_500);
      expect(run.errors).toBe(0);
    }
  });

  it('every shipped scenario validates and simulates briefly without errors', () => {
    for (const file of ['default', 'homogeneous', 'linkerd-slow-replica', 'stale-herding', 'condor-harvest']) {
      const s = loadScenario(`scenarios/${file}.yaml`, checkPolicySpecs);
      const report = simulate(s, { policies: s.policies.slice(0, 1), requests: 2000 });
      expect(report.runs[0].requests, file).toBe(2000);
      expect(report.runs[0].errors, file).toBe(0);
    }
  });
});
