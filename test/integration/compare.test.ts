import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../core/scenario.js';
import type { Report } from '../../core/report.js';
import { startUp } from '../../dispatcher/local-fleet.js';
import { runCompare, type CompareProgress } from '../../loadtest/compare.js';
import { until } from './dispatcher-helpers.js';
import { renderHtml } from '../../report/html.js';
import { ReportSchema } from '../../report/schema.js';

/**
 * `compare` end to end on real sockets: a tiny fleet (two replicas, one of them slowed by a noisy
 * neighbour), two policies for ~2 s each, open loop at 100 req/s.
 */
const scenarioInput = () => ({
  name: 'tiny',
  seed: 3,
  hosts: [
    { name: 'fast', cores: 2, memoryMb: 4096 },
    { name: 'busy', cores: 1, memoryMb: 4096 },
  ],
  vms: [
    { name: 'web-a', host: 'fast', vcpus: 1, memoryMb: 512, virtualization: 'container' },
    { name: 'web-b', kind: 'web', host: 'busy', vcpus: 1, memoryMb: 512, virtualization: 'container' },
    { name: 'noise', host: 'busy', vcpus: 1, memoryMb: 512, serves: false, background: { cpuCores: 1 } },
  ],
  workload: { sessions: 20, classes: [{ name: 'page', share: 1, route: '/', cpuMs: 2 }], arrival: { rateRps: 100 } },
  // A probe answer delayed by a busy machine must not take a replica out (it would skew the picks).
  dispatcher: { healthCheck: { timeoutMs: 10_000 } },
  policies: ['round-robin', 'session-sticky'],
  duration: '2500ms',
  warmup: '500ms',
});
const scenario = parseScenario(scenarioInput());

describe('runCompare', () => {
  let report: Report;
  const progress: CompareProgress[] = [];

  it('measures each policy on a fresh fleet and writes a report that adds up', async () => {
    report = await runCompare({ scenario, onProgress: (p) => progress.push(p), command: 'dispatchlab compare --scenario tiny.yaml' });
    expect(ReportSchema.safeParse(report).error).toBeUndefined();
    expect(report.mode).toBe('live');
    expect(report.runs.map((r) => r.policy)).toEqual(['round-robin', 'session-sticky']);
    for (const run of report.runs) {
      // ~100 req/s for 2 s; the same seeded arrivals for both policies.
      expect(run.requests).toBeGreaterThan(120);
      expect(run.requests).toBe(report.runs[0].requests);
      expect(run.errors).toBe(0);
      // The client's count, the dispatcher's per-backend counts and their shares agree.
      expect(run.backends.reduce((a, b) => a + b.requests, 0)).toBe(run.requests);
      expect(run.backends.reduce((a, b) => a + b.share, 0)).toBeCloseTo(1, 9);
      // Each replica's kind: its entry's name unless the entry gives one.
      expect(run.backends.map((b) => [b.id, b.kind])).toEqual([['web-a', 'web-a'], ['web-b', 'web']]);
      const l = run.latencyMs;
      expect(l.p50).toBeGreaterThan(0);
      expect([l.p50, l.p90, l.p99, l.p999, l.max]).toEqual([...[l.p50, l.p90, l.p99, l.p999, l.max]].sort((a, b) => a - b));
      // Answers per second of the window (drain included): no speed asserted, only that it is
      // consistent with ~200 arrivals over 2 s, the last of them surely after 1.5 s.
      expect(run.throughputRps).toBeGreaterThan(0);
      expect(run.throughputRps).toBeLessThanOrEqual(run.requests / 1.5);
      // The noisy neighbour shares web-b's only core, so web-b is stolen from and web-a is not.
      const vm = new Map(run.vms?.map((v) => [v.vm, v]));
      expect(vm.get('web-b')?.stealSeconds).toBeGreaterThan(0);
      expect(vm.get('web-a')?.stealSeconds).toBe(0);
      expect(vm.get('noise')?.cpuSeconds).toBeGreaterThan(0);
      expect(run.timeline?.length).toBeGreaterThanOrEqual(2);
    }
    // Round-robin alternates; the sticky policy keeps sessions (hit ratio high after the warm-up).
    const [rr, sticky] = report.runs;
    expect(Math.abs(rr.backends[0].requests - rr.backends[1].requests)).toBeLessThanOrEqual(1);
    expect(rr.stickyHitRatio).toBeUndefined();
    expect(sticky.stickyHitRatio).toBeGreaterThan(0.9);
    expect(progress.filter((p) => p.stage === 'done').map((p) => p.policy)).toEqual(['round-robin', 'session-sticky']);
    expect(progress.some((p) => p.tick?.phase === 'measure')).toBe(true);
    expect(String(report.environment?.loadGenerator)).toMatch(/child process per policy \(pids \d+, \d+\)/);
    expect(report.environment?.proxyEngine).toBe('socket');
    // The dispatcher's process did work in every measured window (its share is the report's, not asserted).
    const cpu = report.environment?.dispatcherCpu;
    expect(cpu !== undefined && 'byPolicy' in cpu ? Object.keys(cpu.byPolicy) : []).toEqual(['round-robin', 'session-sticky']);
    if (cpu !== undefined && 'byPolicy' in cpu) {
      expect(cpu.process).toContain(`pid ${process.pid}`);
      for (const use of Object.values(cpu.byPolicy)) expect(use.cpuSeconds).toBeGreaterThan(0);
    }
    // Built without the CLI, the report still sets each policy beside its simulation.
    expect(report.againstSim?.map((r) => r.policy)).toEqual(['round-robin', 'session-sticky']);
    for (const row of report.againstSim ?? []) expect(row.simulatedMeanMs).toBeGreaterThan(0);
  });

  it('renders the report as HTML with a chart per section', async () => {
    const html = await renderHtml({ report });
    for (const id of ['latency-cdf', 'request-share', 'steal', 'timeline']) {
      expect(html).toMatch(new RegExp(`<section id="${id}">[\\s\\S]*?<svg[\\s\\S]*?aria-roledescription="(line mark|bar)"`));
    }
  });
});

describe('runCompare: the run starts when the load does', () => {
  it("starts the models' faults with the load, as the simulator does with its first arrival: a VM crashed from 0 s answers nothing", async () => {
    const faulty = parseScenario({
      ...scenarioInput(),
      faults: [{ at: '0s', for: '1h', vm: 'web-b', kind: 'crash' }],
      policies: ['round-robin'],
    });
    const report = await runCompare({ scenario: faulty, command: 'dispatchlab compare --scenario faulty.yaml' });
    const run = report.runs[0];
    const webB = run.backends.find((b) => b.id === 'web-b');
    // Every attempt on web-b failed (and was retried on web-a); had the fault never started, web-b would have served.
    expect(webB?.requests ?? 0).toBe(webB?.errors ?? 0);
    expect(run.backends.find((b) => b.id === 'web-a')?.requests).toBeGreaterThan(0);
  });

  it('startUp with deferModels leaves owners and faults unstarted until startModels, then counts their times from then', async () => {
    const faulty = parseScenario({ ...scenarioInput(), faults: [{ at: '100ms', for: '1h', vm: 'web-b', kind: 'crash' }] });
    const up = await startUp({ scenario: faulty, policy: 'round-robin', dispatcher: { healthChecks: false }, deferModels: true });
    try {
      const webB = () => up.models.find((m) => m.name === 'busy')?.status('web-b');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(webB()).toBe('running');
      up.startModels();
      expect(webB()).toBe('running');
      await until(() => webB() === 'crashed');
    } finally {
      await up.close();
    }
  });
});
