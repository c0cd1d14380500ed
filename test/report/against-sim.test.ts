import { describe, expect, it } from 'vitest';
import type { PolicyRun, Report } from '../../core/report.js';
import { againstSimText, againstSimulation } from '../../report/against-sim.js';

const run = (policy: string, mean: number, p99: number, latenessMs?: number): PolicyRun => ({
  policy,
  requests: 1000,
  errors: 0,
  throughputRps: 100,
  latencyMs: { mean, p50: mean, p90: p99, p99, p999: p99, max: p99 },
  backends: [],
  ...(latenessMs === undefined ? {} : { timerLatenessMs: { mean: latenessMs, p99: latenessMs } }),
});
const report = (mode: 'live' | 'simulate', runs: PolicyRun[]): Report => ({ mode, scenario: 's', seed: 1, runs });

describe('live against simulated', () => {
  it('agrees within 10% + 1 ms (p99 20% + 2 ms), is explained by timer lateness, or diverges, and warns then', () => {
    const rows = againstSimulation(
      report('live', [run('a', 10.9, 30, 0.1), run('b', 20, 40, 5), run('c', 40, 80, 0.2)]),
      report('simulate', [run('a', 10, 28), run('b', 10, 30), run('c', 10, 30)]),
    );
    expect(rows.map((r) => [r.policy, r.verdict])).toEqual([
      ['a', 'agrees'],
      ['b', 'explained'],
      ['c', 'diverges'],
    ]);
    expect(rows[2].meanRatio).toBe(4);
    const text = againstSimText(rows);
    expect(text).toMatch(/warning: c: live latency is above the simulation/);
    expect(text).not.toMatch(/warning: .*\ba\b/);
  });
});
