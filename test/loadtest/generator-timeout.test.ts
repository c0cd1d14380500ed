import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../core/scenario.js';
import { generatorTimeoutMs } from '../../loadtest/compare.js';

const withTotal = (totalMs?: string) =>
  parseScenario({
    name: 't',
    hosts: [{ name: 'h', cores: 1, memoryMb: 1024 }],
    vms: [{ name: 'web', host: 'h' }],
    workload: { classes: [{ name: 'page', share: 1, cpuMs: 1 }] },
    ...(totalMs === undefined ? {} : { dispatcher: { timeouts: { totalMs } } }),
  });

describe("compare's generator timeout", () => {
  it("outlasts the dispatcher's total timeout, so a request the dispatcher ends is its 504, not the client's abort", () => {
    for (const scenario of [withTotal(), withTotal('1s'), withTotal('2m')]) {
      const totalMs = scenario.dispatcher.timeouts.totalMs;
      expect(generatorTimeoutMs(scenario)).toBeGreaterThan(totalMs);
      // With a margin for a busy machine: the client's timer starts at the send, the dispatcher's at arrival.
      expect(generatorTimeoutMs(scenario) - totalMs).toBeGreaterThanOrEqual(1000);
    }
  });
});
