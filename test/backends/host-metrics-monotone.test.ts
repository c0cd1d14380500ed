import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createHostMetrics } from '../../backends/host-metrics.js';
import { bench } from '../hypervisor/fixtures.js';

// Issue 17.9: host-b's /metrics threw "It is not possible to decrease a counter" for a whole
// compose run. Every counter a host exports must be >= 0 and never decrease between scrapes,
// whatever owners, migrations, crashes and contention do to its VMs; and a scrape must not throw.

/** Every `_total` sample of a scrape, by series. */
function counters(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(dispatchlab_\w+_total(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match) out.set(match[1], Number(match[2]));
  }
  return out;
}

const step = fc.record({
  advanceMs: fc.integer({ min: 0, max: 400 }),
  vm: fc.constantFrom('harvested', 'capped', 'owned', 'noisy'),
  cpuMs: fc.double({ min: 0, max: 300, noNaN: true }),
  ioOps: fc.integer({ min: 0, max: 50 }),
  pageTableUpdates: fc.integer({ min: 0, max: 200 }),
  scrape: fc.boolean(),
});

describe('host metrics: counters are monotone', () => {
  it('under owner returns (suspend or migrate), crashes, slow faults, caps and contention', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('suspend', 'migrate'),
        fc.constantFrom('type1', 'type2'),
        fc.array(step, { minLength: 5, maxLength: 60 }),
        async (onOwnerReturn, hypervisor, steps) => {
          const b = bench(
            {
              cores: 3,
              memoryMb: 8192,
              hypervisor,
              hostLoad: hypervisor === 'type2' ? 1.3 : 0,
              owner: [{ at: 300, for: 700 }, { at: 2500, for: 400 }],
              onOwnerReturn,
            },
            [
              { name: 'harvested', harvested: true, vcpus: 2, memoryMb: 2048, weight: 3 },
              { name: 'capped', vcpus: 2, capCores: 0.7, virtualization: 'binary-translation', mmu: 'shadow' },
              { name: 'owned', vcpus: 1, weight: 0.5 },
              { name: 'noisy', vcpus: 3, serves: false, background: { cpuCores: 2.5 } },
            ],
            {
              faults: [
                { at: 800, for: 600, vm: 'owned', kind: 'crash' },
                { at: 1200, for: 900, vm: 'capped', kind: 'slow', factor: 3 },
                { at: 2000, for: 300, vm: 'harvested', kind: 'crash' },
              ],
            },
          );
          const metrics = createHostMetrics(b.host);
          b.host.start();
          let last = new Map<string, number>();
          for (const s of steps) {
            b.clock.advance(s.advanceMs);
            b.submit(s.vm, { cpuMs: s.cpuMs, ioOps: s.ioOps, pageTableUpdates: s.pageTableUpdates });
            if (!s.scrape) continue;
            const now = counters(await metrics.registry.metrics());
            for (const [series, value] of now) {
              expect(value, series).toBeGreaterThanOrEqual(0);
              expect(value, series).toBeGreaterThanOrEqual(last.get(series) ?? 0);
            }
            last = now;
          }
          b.clock.runUntilIdle();
          const end = counters(await metrics.registry.metrics());
          for (const [series, value] of end) expect(value, series).toBeGreaterThanOrEqual(last.get(series) ?? 0);
          b.host.stop();
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('MonotoneTotals', () => {
  it('exports the largest value seen per series, never a negative or non-finite one', async () => {
    const { MonotoneTotals } = await import('../../backends/host-metrics.js');
    const totals = new MonotoneTotals();
    expect([5, 4.999, 7, -1, Number.NaN, Infinity, 8].map((v) => totals.next('a', v))).toEqual([5, 5, 7, 7, 7, 7, 8]);
    expect(totals.next('b', -1e-15)).toBe(0);
  });
});

describe('a host whose totals misbehave', () => {
  it('still answers every scrape, with counters that do not go down', async () => {
    const { createHostMetrics } = await import('../../backends/host-metrics.js');
    let steal = 2;
    const vm = () => ({ vm: 'web', host: 'h', status: 'running', vcpus: 1, serves: true, running: 0, completed: 3, cpuSeconds: 1, stealSeconds: steal, swappedMb: 0, ioTraps: 0, pageTableTraps: 0, load: 0 });
    const host = { name: 'h', hostLoad: () => 0, snapshot: () => ({ vms: [vm()], ownerActive: false }) } as unknown as Parameters<typeof createHostMetrics>[0];
    const metrics = createHostMetrics(host);
    const stealOf = async () => /dispatchlab_vm_steal_seconds_total\{[^}]*\} (\S+)/.exec(await metrics.registry.metrics())?.[1];
    expect(await stealOf()).toBe('2');
    steal = 1.5;
    expect(await stealOf()).toBe('2');
    steal = -0.25;
    expect(await stealOf()).toBe('2');
    steal = 3;
    expect(await stealOf()).toBe('3');
  });
});
