import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../core/scenario.js';
import { checkPolicySpecs } from '../../policies/index.js';
import { simulate } from '../../sim/simulation.js';

// The shipped scenarios that are not published results: each shows what its header says.

const VIRTUALIZATION_SCENARIOS = ['virt-emulation', 'virt-binary-translation', 'virt-hardware-shadow', 'virt-hardware-nested', 'virt-paravirtual', 'virt-container'];

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

  it('datacentre: least-loaded, then power-of-two, answer faster than round robin; session-sticky is slowest', () => {
    const report = simulate(loadScenario('scenarios/datacentre.yaml', checkPolicySpecs), { requests: 20_000 });
    expect(report.runs.map((r) => r.backends.length)).toEqual([600, 600, 600, 600, 600]);
    const by = (policy: string) => report.runs.find((r) => r.policy === policy)?.latencyMs ?? { mean: Number.NaN, p99: Number.NaN };
    for (const stat of ['mean', 'p99'] as const) {
      expect(by('least-loaded')[stat], stat).toBeLessThan(by('power-of-two')[stat]);
      expect(by('power-of-two')[stat], stat).toBeLessThan(by('round-robin')[stat]);
      expect(by('round-robin')[stat], stat).toBeLessThan(by('session-sticky')[stat]);
    }
  });

  it('every shipped scenario validates and simulates briefly without errors', () => {
    for (const file of ['default', 'homogeneous', 'linkerd-slow-replica', 'stale-herding', 'condor-harvest', 'datacentre', ...VIRTUALIZATION_SCENARIOS]) {
      const s = loadScenario(`scenarios/${file}.yaml`, checkPolicySpecs);
      const report = simulate(s, { policies: s.policies.slice(0, 1), requests: 2000 });
      expect(report.runs[0].requests, file).toBe(2000);
      expect(report.runs[0].errors, file).toBe(0);
    }
  });

  it('the virtualization scenarios read like the course notes: emulation >> BT ~ first-generation hardware assist > nested paging > para-virtual ~ container', () => {
    const mean = Object.fromEntries(
      VIRTUALIZATION_SCENARIOS.map((file) => {
        const s = loadScenario(`scenarios/${file}.yaml`, checkPolicySpecs);
        return [file.slice('virt-'.length), simulate(s, { policies: s.policies.slice(0, 1), requests: 500 }).runs[0].latencyMs.mean];
      }),
    );
    expect(mean.emulation).toBeGreaterThan(10 * mean['binary-translation']);
    // Adams & Agesen 2006: on page-table-heavy work first-generation hardware assist is slower
    // than BT, but of the same order.
    expect(mean['hardware-shadow']).toBeGreaterThan(mean['binary-translation']);
    expect(mean['hardware-shadow']).toBeLessThan(1.25 * mean['binary-translation']);
    expect(mean['hardware-nested']).toBeLessThan(mean['binary-translation']);
    expect(mean.paravirtual).toBeLessThan(mean['hardware-nested']);
    expect(mean.container).toBeLessThan(mean.paravirtual);
    expect(mean.paravirtual).toBeLessThan(1.15 * mean.container);
  });
});
