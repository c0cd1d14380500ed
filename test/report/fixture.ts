import type { PolicyRun, Report } from '../../core/report.js';

/** A small hand-made report: two policies, two replicas and a neighbour VM, every chart fed. */
function run(policy: string, scale: number, shares: [number, number], sticky?: number): PolicyRun {
  const requests = 1000;
  return {
    policy,
    requests,
    errors: policy === 'round-robin' ? 3 : 0,
    throughputRps: 100 / scale,
    latencyMs: { mean: 5 * scale, p50: 4 * scale, p90: 9 * scale, p99: 20 * scale, p999: 40 * scale, max: 50 * scale },
    backends: [
      { id: 'web-1', host: 'host-a', requests: requests * shares[0], share: shares[0], cpuSeconds: 1.5, stealSeconds: 0 },
      { id: 'web-2', host: 'host-b', requests: requests * shares[1], share: shares[1], cpuSeconds: 2.5, stealSeconds: 0.4 * scale },
    ],
    vms: [
      { vm: 'web-1', host: 'host-a', serves: true, cpuSeconds: 1.5, stealSeconds: 0 },
      { vm: 'web-2', host: 'host-b', serves: true, cpuSeconds: 2.5, stealSeconds: 0.4 * scale },
      { vm: 'batch', host: 'host-b', serves: false, cpuSeconds: 4, stealSeconds: 1.2 },
    ],
    imbalance: Math.max(...shares) / 0.5,
    jain: 1 / (2 * (shares[0] ** 2 + shares[1] ** 2)),
    stickyHitRatio: sticky,
    retries: 1,
    queueWaitMs: { mean: 0.1, p99: 1 },
    errorsByCode: policy === 'round-robin' ? { '502': 3 } : {},
    timeline: [0, 1000, 2000].map((tMs, i) => ({ tMs, p50: (4 + i) * scale, p99: (20 + i) * scale, rps: 100 })),
    cdf: [[1 * scale, 0.1], [4 * scale, 0.5], [9 * scale, 0.9], [20 * scale, 0.99], [50 * scale, 1]],
  };
}

export function fixtureReport(): Report {
  return {
    mode: 'live',
    scenario: 'tiny',
    seed: 7,
    createdAt: '2026-11-26T00:00:00.000Z',
    command: 'dispatchlab compare --scenario scenarios/tiny.yaml --policies round-robin,least-loaded',
    environment: { loadGenerator: 'child process' },
    runs: [run('round-robin', 2, [0.5, 0.5]), run('least-loaded', 1, [0.7, 0.3]), run('session-sticky', 1.5, [0.6, 0.4], 0.98)],
    theory: { note: '<b>escaped</b>' },
  };
}
