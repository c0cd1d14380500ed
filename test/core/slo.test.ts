import { describe, expect, it } from 'vitest';
import type { PolicyRun } from '../../core/report.js';
import { parseScenario } from '../../core/scenario.js';
import { checkSlo, parseSlo, sloMet, withSlo } from '../../core/slo.js';

function run(overrides: Partial<PolicyRun> = {}): PolicyRun {
  return {
    policy: 'p',
    requests: 1000,
    errors: 5,
    throughputRps: 90,
    latencyMs: { mean: 20, p50: 15, p90: 40, p99: 150, p999: 300, max: 400 },
    backends: [],
    queueWaitMs: { mean: 2, p99: 10 },
    ...overrides,
  };
}

describe('parseSlo', () => {
  it('reads latency in ms, s and us, errors as a share or a count, throughput, and every operator', () => {
    expect(parseSlo('p99<200ms, p99.9<=1s,mean<500us,max<250, errors<1%, errors<=3, rps>100, queue>=0').map((t) => [t.metric, t.op, t.value, t.share])).toEqual([
      ['p99', '<', 200, false],
      ['p999', '<=', 1000, false],
      ['mean', '<', 0.5, false],
      ['max', '<', 250, false],
      ['errors', '<', 0.01, true],
      ['errors', '<=', 3, false],
      ['throughput', '>', 100, false],
      ['queue', '>=', 0, false],
    ]);
  });

  it('refuses what it cannot read, naming the threshold', () => {
    expect(() => parseSlo('')).toThrow(/expected thresholds/);
    expect(() => parseSlo('p98<2ms')).toThrow(/"p98<2ms": expected METRIC<VALUE/);
    expect(() => parseSlo('p99<2parsecs')).toThrow(/a latency takes ms, s or us/);
    expect(() => parseSlo('errors<1ms')).toThrow(/errors take a share/);
    expect(() => parseSlo('p99=2ms')).toThrow(/expected METRIC<VALUE/);
  });
});

describe('checkSlo', () => {
  it('passes a run that meets every threshold and names each one it misses, with the value measured', () => {
    expect(checkSlo(run(), parseSlo('p99<200ms,errors<1%,rps>50'))).toEqual({ pass: true, failed: [] });
    expect(checkSlo(run(), parseSlo('p99<100ms,errors<0.1%,errors<=5,rps>100'))).toEqual({
      pass: false,
      failed: ['p99<100ms (was 150.00 ms)', 'errors<0.1% (was 0.50%)', 'rps>100 (was 90.0 rps)'],
    });
  });

  it('fails every latency threshold of a run with no successful answer (its zeros are not a latency)', () => {
    const failed = run({ errors: 1000, throughputRps: 0, latencyMs: { mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 } });
    expect(checkSlo(failed, parseSlo('p99<200ms'))).toEqual({ pass: false, failed: ['p99<200ms (was no successful answer)'] });
  });

  it('marks every run of a report, and says whether all met it', () => {
    const report = { runs: [run({ policy: 'a' }), run({ policy: 'b', latencyMs: { ...run().latencyMs, p99: 900 } })] };
    const checked = withSlo(report, 'p99<200ms');
    expect(checked.slo).toBe('p99<200ms');
    expect(checked.runs.map((r) => r.slo?.pass)).toEqual([true, false]);
    expect(sloMet(checked)).toBe(false);
    expect(sloMet(withSlo(report, 'p99<1s'))).toBe(true);
    expect(withSlo(report, undefined)).toBe(report);
  });
});

describe('the scenario field', () => {
  const base = { name: 's', hosts: [{ name: 'h', cores: 1, memoryMb: 1024 }], vms: [{ name: 'web', host: 'h' }], workload: { classes: [{ name: 'c', share: 1, cpuMs: 1 }] } };
  it('is checked when the scenario is read, with its path', () => {
    expect(parseScenario({ ...base, slo: 'p99<200ms,errors<1%' }).slo).toBe('p99<200ms,errors<1%');
    expect(() => parseScenario({ ...base, slo: 'p99<fast' })).toThrow(/slo.*p99<fast/s);
  });
});
