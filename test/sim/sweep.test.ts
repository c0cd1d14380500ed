import { describe, expect, it } from 'vitest';
import { runSweepOnWorkers } from '../../cli/sim-workers.js';
import { sweepChartSpec, sweepTable } from '../../report/sweep.js';
import { parseSweep, runSweepPoint, sweepRates, type SweepReport } from '../../sim/sweep.js';
import { homogeneous } from './fixtures.js';

/** `simulate --sweep`: the points, the theory beside them, and worker threads that give the very same numbers. */

const scenario = homogeneous({ replicas: 4, utilisation: 0.5, policies: ['random', 'least-loaded'] });

describe('parseSweep and sweepRates', () => {
  it('spaces the points evenly, both ends included; utilisation becomes the rate that offers it', () => {
    expect(sweepRates(scenario, parseSweep('rate=100..1000:10'))).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    // 4 replicas of 10 ms: utilisation 0.5 is 200 req/s.
    const rates = sweepRates(scenario, parseSweep('utilisation=0.25..0.75:3'));
    expect(rates.map((r) => Math.round(r * 1e6) / 1e6)).toEqual([100, 200, 300]);
  });

  it('refuses what it cannot sweep', () => {
    expect(() => parseSweep('rate=100-1000:10')).toThrow(/expected rate=FROM..TO:POINTS/);
    expect(() => parseSweep('rate=1000..100:10')).toThrow(/0 < FROM < TO/);
    expect(() => parseSweep('rate=100..1000:1')).toThrow(/2 to 200 points/);
    expect(() => parseSweep('utilisation=0.5..1.2:4')).toThrow(/no steady state/);
    // Utilisation needs a fleet theory knows; otherwise the error proposes rates around the scenario's.
    const contended = { ...scenario, hosts: scenario.hosts.map((h) => ({ ...h, cores: 2 })) };
    expect(() => sweepRates(contended, parseSweep('utilisation=0.2..0.9:8'))).toThrow(
      /^a utilisation sweep needs a scenario queueing theory describes \(host h0: its VMs' vCPUs .*\); sweep the rate instead, e\.g\. rate=50\.\.250:6 around the scenario's 200 req\/s$/,
    );
  });
});

describe('a sweep', () => {
  it('gives every policy at each load, the theory beside it, the knee (latency grows with load), on worker threads exactly as in process', async () => {
    const rates = [100, 350];
    const inProcess = rates.map((r) => runSweepPoint(scenario, r, scenario.policies, 2000));
    const onWorkers = await runSweepOnWorkers(scenario, rates, scenario.policies, 2000, undefined, 2);
    expect(onWorkers).toEqual(inProcess);
    const [low, high] = inProcess;
    expect(low.runs.map((r) => r.policy)).toEqual(['random', 'least-loaded']);
    expect(low.utilisation).toBeCloseTo(0.25, 9);
    expect(high.theory?.random).toBeCloseTo(10 / (1 - 0.875), 6);
    for (const i of [0, 1]) expect(high.runs[i].meanMs).toBeGreaterThan(low.runs[i].meanMs);
    const report: SweepReport = { mode: 'simulate', scenario: 's', seed: 1, sweep: parseSweep('rate=100..350:2'), requestsPerPoint: 2000, points: inProcess };
    expect(sweepTable(report).split('\n')).toHaveLength(3);
    const layers = (sweepChartSpec(report) as { layer: Array<{ data: { values: unknown[] } }> }).layer;
    // Measured mean and p99 per policy per point, then three theory curves per point.
    expect(layers.map((l) => l.data.values.length)).toEqual([2 * 2 * 2, 3 * 2]);
  });
});
