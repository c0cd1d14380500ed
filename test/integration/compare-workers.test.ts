import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../core/scenario.js';
import { runCompare } from '../../loadtest/compare.js';
import { ReportSchema } from '../../report/schema.js';

/**
 * `compare --workers 2`: the dispatcher in two worker processes, the hosts in this one. The report
 * is built from the request events the workers hand over (shifted onto this process's clock), so
 * it adds up as a one-process run does, and its environment gives the workers' CPU, not the hosts'.
 */
const scenario = parseScenario({
  name: 'tiny-workers',
  seed: 5,
  hosts: [{ name: 'h', cores: 2, memoryMb: 4096 }],
  vms: [{ name: 'web', count: 2, host: 'h', vcpus: 1, memoryMb: 512, virtualization: 'container' }],
  workload: { sessions: 20, classes: [{ name: 'page', share: 1, route: '/', cpuMs: 2 }], arrival: { rateRps: 100 } },
  dispatcher: { healthCheck: { timeoutMs: 10_000 } },
  policies: ['round-robin'],
  duration: '2500ms',
  warmup: '500ms',
});

describe('runCompare with dispatcher workers', () => {
  it('counts every request the workers answered and reports their CPU share', { timeout: 120_000 }, async () => {
    const report = await runCompare({ scenario, workers: 2 });
    expect(ReportSchema.safeParse(report).error).toBeUndefined();
    const [run] = report.runs;
    // ~100 req/s over a 2 s window, every one answered by a worker and counted here.
    expect(run.requests).toBeGreaterThan(120);
    expect(run.errors).toBe(0);
    expect(run.backends.reduce((s, b) => s + b.requests, 0)).toBe(run.requests);
    expect(run.latencyMs.p50).toBeGreaterThan(0);
    expect(run.timeline?.length).toBeGreaterThanOrEqual(2);
    expect(String(report.environment?.systemUnderTest)).toMatch(/the dispatcher in 2 worker processes/);
    const cpu = report.environment?.dispatcherCpu;
    expect(cpu !== undefined && 'byPolicy' in cpu ? cpu.process : '').toMatch(/^2 dispatcher worker processes/);
    expect(cpu !== undefined && 'byPolicy' in cpu ? cpu.byPolicy['round-robin'].cpuSeconds : 0).toBeGreaterThan(0);
  });
});
