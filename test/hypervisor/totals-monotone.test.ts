import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_COST_MODEL } from '../../backends/hypervisor/cost-model.js';
import { createHost } from '../../backends/hypervisor/host.js';
import type { JobHandle, VmSnapshot } from '../../backends/hypervisor/types.js';
import type { Cancel, Clock, Timer } from '../../core/clock.js';
import { VirtualClock } from '../../core/virtual-clock.js';
import { specs } from './fixtures.js';

// Issue 17.9, in the model itself rather than through the exporter's MonotoneTotals guard: every
// cumulative total a host's snapshot carries (what backends/host-metrics.ts exports as a counter)
// is >= 0 and never goes down, read after every event, whatever owner returns (suspend, live and
// checkpoint migration), crashes (scenario and control), cancellations, host-load changes and a
// late or slightly early event loop do. The host is scenario host-b of the compose run that lost
// its /metrics: Type 2, per-thread sharing, host load, a noisy batch VM, harvested replicas.

/**
 * A VirtualClock whose callbacks run late (a busy loop) or up to 1 ms early (Node's timers), by a
 * seeded draw, and whose reading, like performance.now(), moves on a little every time it is read
 * (`tickMs`): an event that reads the clock twice sees two instants.
 */
class SkewedClock implements Clock {
  readonly inner = new VirtualClock();
  private draw = 0;
  private ticks = 0;

  constructor(
    private readonly skewsMs: readonly number[],
    private readonly tickMs: number,
  ) {}

  now(): number {
    this.ticks += this.tickMs;
    return this.inner.now() + this.ticks;
  }

  schedule(delayMs: number, fn: () => void): Cancel {
    const skewMs = this.skewsMs[this.draw++ % this.skewsMs.length];
    return this.inner.schedule(Math.max(0, Math.max(0, delayMs) + skewMs), fn);
  }

  timer(fn: () => void): Timer {
    let cancel: Cancel | undefined;
    return {
      set: (delayMs) => {
        cancel?.();
        cancel = this.schedule(delayMs, fn);
      },
      clear: () => {
        cancel?.();
        cancel = undefined;
      },
    };
  }
}

const TOTALS = ['cpuSeconds', 'stealSeconds', 'completed', 'ioTraps', 'pageTableTraps'] as const satisfies readonly (keyof VmSnapshot)[];
const REPLICAS = ['b1', 'b2'] as const;

const op = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('submit' as const), vm: fc.constantFrom(...REPLICAS), cpuMs: fc.double({ min: 0, max: 60, noNaN: true }), memoryMb: fc.integer({ min: 0, max: 64 }) }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.double({ min: 0, max: 80, noNaN: true }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('crash' as const, 'restore' as const), vm: fc.constantFrom(...REPLICAS) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('owner' as const), vm: fc.constantFrom(...REPLICAS), mode: fc.constantFrom('suspend' as const, 'migrate' as const), forMs: fc.integer({ min: 1, max: 600 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('hostLoad' as const), cores: fc.double({ min: 0, max: 4, noNaN: true }) }) },
);

describe('hypervisor host: snapshot totals are monotone (issue 17.9)', () => {
  it('after every event, under owners, migrations, crashes, cancels, host load and a skewed clock', () => {
    let runsWithSteal = 0;
    fc.assert(
      fc.property(
        fc.constantFrom('suspend' as const, 'migrate' as const),
        fc.constantFrom('live' as const, 'checkpoint' as const),
        fc.array(fc.oneof(fc.constant(0), fc.double({ min: -1, max: 0, noNaN: true }), fc.double({ min: 0, max: 50, noNaN: true })), { minLength: 1, maxLength: 16 }),
        fc.array(op, { minLength: 10, maxLength: 120 }),
        fc.constantFrom(0, 0.001),
        (onOwnerReturn, migrate, skewsMs, ops, tickMs) => {
          const clock = new SkewedClock(skewsMs, tickMs);
          const s = specs(
            { hypervisor: 'type2', cores: 4, memoryMb: 8192, hostLoad: 1.5, owner: [{ at: 200, for: 900 }, { at: 1500, for: 400 }], onOwnerReturn, migrate },
            [
              { name: 'b1', vcpus: 2, memoryMb: 2048, virtualization: 'paravirtual', mmu: 'nested', harvested: true },
              { name: 'b2', vcpus: 1, memoryMb: 2048, virtualization: 'binary-translation', mmu: 'shadow', harvested: true, capCores: 0.8 },
              { name: 'batch', vcpus: 2, memoryMb: 2048, serves: false, background: { cpuCores: 2 } },
            ],
          );
          const faults = [
            { vm: 'b1', kind: 'crash' as const, at: 700, for: 300, factor: 1 },
            { vm: 'b2', kind: 'slow' as const, at: 400, for: 800, factor: 3 },
          ];
          const host = createHost(s.host, s.vms, { clock, costModel: DEFAULT_COST_MODEL, faults });
          const handles: JobHandle[] = [];
          const last = new Map<string, number>();
          const check = (when: string): void => {
            for (const vm of host.snapshot().vms) {
              for (const total of TOTALS) {
                const series = `${vm.vm} ${total}`;
                const value = vm[total];
                expect(value, `${series} ${when}`).toBeGreaterThanOrEqual(last.get(series) ?? 0);
                last.set(series, value);
              }
            }
          };
          host.start();
          ops.forEach((o, i) => {
            if (o.kind === 'submit') handles.push(host.submit(o.vm, { cpuMs: o.cpuMs, ioOps: 20, pageTableUpdates: 100, memoryMb: o.memoryMb }, () => undefined));
            else if (o.kind === 'advance') clock.inner.advance(o.ms);
            else if (o.kind === 'cancel') handles[o.pick % Math.max(1, handles.length)]?.cancel();
            else if (o.kind === 'crash') host.crash(o.vm);
            else if (o.kind === 'restore') host.restore(o.vm);
            else if (o.kind === 'owner') host.ownerReturns(o.vm, o.mode, o.forMs);
            else if (o.kind === 'hostLoad') host.setHostLoad(o.cores);
            check(`after op ${i} (${o.kind})`);
          });
          clock.inner.runUntilIdle();
          check('at the end');
          // Not vacuous: the batch VM, never crashed, ran through the owner intervals.
          const vms = host.snapshot().vms;
          expect(vms.find((vm) => vm.vm === 'batch')?.cpuSeconds).toBeGreaterThan(0);
          if (vms.some((vm) => vm.stealSeconds > 0)) runsWithSteal++;
          host.stop();
        },
      ),
      { numRuns: 120 },
    );
    // ... and contention stole time in most runs, so steal was exercised, not just left at 0.
    expect(runsWithSteal).toBeGreaterThan(60);
  });
});
