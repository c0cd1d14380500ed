import { describe, expect, it } from 'vitest';
import type { PolicyRun, Report } from '../../core/report.js';
import { againstSimText, againstSimulation, againstSimVerdict } from '../../report/against-sim.js';

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
      [run('a', 10.9, 30, 0.1), run('b', 20, 40, 5), run('c', 40, 80, 0.2)],
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

  it('decides on the gap and the measured lateness alone: the same gap is explained by enough lateness and diverges without it', () => {
    const sim = { mean: 20, p99: 100 };
    // 10% + 1 ms of 20 ms is 3 ms; p99 20% + 2 ms of 100 is 22 ms.
    expect(againstSimVerdict({ mean: 23, p99: 122 }, sim, 0)).toBe('agrees');
    expect(againstSimVerdict({ mean: 17, p99: 78 }, sim, 0)).toBe('agrees');
    // The p99 target decides agreement only: a 16 s window's tail moves too much to warn on.
    expect(againstSimVerdict({ mean: 23, p99: 123 }, sim, 0)).toBe('explained');
    // 8 ms over: explained by 2.5 ms of lateness (3 + 2 x 2.5), not by 2.4 ms.
    expect(againstSimVerdict({ mean: 28, p99: 100 }, sim, 2.5)).toBe('explained');
    expect(againstSimVerdict({ mean: 28, p99: 100 }, sim, 2.4)).toBe('diverges');
    // Below the simulation beyond the same bound: no machine makes a run faster, so the picks differed.
    expect(againstSimVerdict({ mean: 12, p99: 100 }, sim, 2.5)).toBe('explained');
    expect(againstSimVerdict({ mean: 11.9, p99: 100 }, sim, 2.5)).toBe('decisions-differ');
    // Only a diverging row warns.
    const rows = againstSimulation([run('x', 28, 100, 2.5), { ...run('y', 28, 100, 2.4), modelMeanMs: 21 }], report('simulate', [run('x', 20, 100), run('y', 20, 100)]));
    expect(rows.map((r) => r.verdict)).toEqual(['explained', 'diverges']);
    // Where the live mean was set: 21 ms of y's 28 in the model, beside the simulated 20.
    expect(rows.map((r) => r.liveModelMeanMs)).toEqual([undefined, 21]);
    expect(againstSimText(rows)).toMatch(/^ {2}y +mean 28\.0 vs 20\.0 \(x1\.40, in the model 21\.0\)/m);
    expect(againstSimText(rows)).toMatch(/^warning: y: /m);
    expect(againstSimText(rows.slice(0, 1))).not.toMatch(/warning/);
    const faster = againstSimulation([run('z', 12, 60, 0.2)], report('simulate', [run('z', 20, 100)]));
    expect(faster.map((r) => r.verdict)).toEqual(['decisions-differ']);
    expect(againstSimText(faster)).toMatch(/^warning: z: live latency is below the simulation; .* picked other backends/m);
    expect(againstSimText(faster)).not.toMatch(/too busy/);
  });
});
