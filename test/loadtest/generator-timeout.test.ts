import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../core/scenario.js';
import { loadPlan } from '../../loadtest/compare.js';

const withTotal = (totalMs?: string, arrival: Record<string, number> = { rateRps: 10 }) =>
  parseScenario({
    name: 't',
    hosts: [{ name: 'h', cores: 1, memoryMb: 1024 }],
    vms: [{ name: 'web', host: 'h' }],
    workload: { classes: [{ name: 'page', share: 1, cpuMs: 1 }], arrival },
    ...(totalMs === undefined ? {} : { dispatcher: { timeouts: { totalMs } } }),
  });

describe("compare's load plan", () => {
  it("waits for an answer past the dispatcher's total timeout, so a request the dispatcher ends is its 504, not the client's abort", () => {
    for (const scenario of [withTotal(), withTotal('1s'), withTotal('2m'), withTotal('30s', { connections: 4 })]) {
      const plan = loadPlan({ scenario }, 'http://127.0.0.1:1', 0, 1000);
      const totalMs = scenario.dispatcher.timeouts.totalMs;
      // With a margin for a busy machine: the client's timer starts at the send, the dispatcher's at arrival.
      expect(plan.timeoutMs - totalMs).toBeGreaterThanOrEqual(1000);
    }
  });
});
