import { describe, expect, it } from 'vitest';
import { createHost } from '../../backends/hypervisor/host.js';
import type { JobResult } from '../../backends/hypervisor/types.js';
import type { Cancel, Clock, Timer } from '../../core/clock.js';
import { VirtualClock } from '../../core/virtual-clock.js';
import { NATIVE_COSTS, specs } from './fixtures.js';

/**
 * The model advances in its own time when the event loop is late (DESIGN.md, "Clock"). A
 * StalledClock is a VirtualClock whose callbacks due inside a stall run when the stall ends, as a
 * busy Node loop runs them: exact and repeatable, so the model's numbers can be pinned.
 */
class StalledClock implements Clock {
  readonly inner = new VirtualClock();

  constructor(
    private readonly stallFromMs: number,
    private readonly stallToMs: number,
  ) {}

  now(): number {
    return this.inner.now();
  }

  schedule(delayMs: number, fn: () => void): Cancel {
    const dueMs = this.now() + Math.max(0, delayMs);
    const runsAtMs = dueMs >= this.stallFromMs && dueMs < this.stallToMs ? this.stallToMs : dueMs;
    return this.inner.schedule(runsAtMs - this.now(), fn);
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

interface Outcome {
  result?: JobResult;
  /** Clock reading when the callback ran: when a live answer would leave. */
  answeredAtMs?: number;
}

function oneVcpuHost(clock: Clock, lateness: number[] = []) {
  const s = specs({ cores: 1, memoryMb: 4096 }, [{ name: 'a', vcpus: 1, memoryMb: 512 }]);
  const host = createHost(s.host, s.vms, { clock, costModel: NATIVE_COSTS, onTimerLateness: (ms) => lateness.push(ms) });
  const submit = (cpuMs: number): Outcome => {
    const out: Outcome = {};
    host.submit('a', { cpuMs, ioOps: 0, pageTableUpdates: 0, memoryMb: 0 }, (result) => {
      if (out.result !== undefined) throw new Error('called back twice');
      out.result = result;
      out.answeredAtMs = clock.now();
    });
    return out;
  };
  return { host, submit };
}

function finishedAt(out: Outcome): number {
  if (out.result === undefined || !out.result.ok) throw new Error('job did not finish');
  return out.result.timing.finishedAt;
}

describe('a late event loop costs the model no capacity', () => {
  it('a timer 85 ms late: each job still completes at its own model instant; the answer leaves late', () => {
    const clock = new StalledClock(5, 105);
    const lateness: number[] = [];
    const { submit } = oneVcpuHost(clock, lateness);
    // Processor sharing on one vCPU: the 10 ms job ends at 20 ms, the 100 ms one at 110 ms.
    const short = submit(10);
    const long = submit(100);
    clock.inner.runUntilIdle();
    expect(finishedAt(short)).toBeCloseTo(20, 9);
    expect(finishedAt(long)).toBeCloseTo(110, 9);
    if (!short.result?.ok) throw new Error('unreachable');
    // The short job got exactly its 10 ms of CPU, not a share of the stall.
    expect(short.result.timing.serviceMs).toBeCloseTo(10, 9);
    // The answer waited for the loop; the lateness was reported.
    expect(short.answeredAtMs).toBe(105);
    expect(long.answeredAtMs).toBeCloseTo(110, 9);
    expect(Math.max(...lateness)).toBeCloseTo(85, 9);
  });

  it('a request that arrives during the stall starts after the completions that were due before it', () => {
    const clock = new StalledClock(5, 105);
    const { host, submit } = oneVcpuHost(clock);
    let late: Outcome | undefined;
    // Scheduled before the jobs, so at 105 it runs before the host's late timer: the submit is the
    // first entry into the model after the stall and must catch up by itself.
    clock.schedule(50, () => (late = submit(10)));
    const short = submit(10);
    const long = submit(100);
    clock.inner.runUntilIdle();
    // short ends at 20; long runs alone until 105 (95 of 100 ms done), then shares with the newcomer.
    expect(finishedAt(short)).toBeCloseTo(20, 9);
    expect(finishedAt(long)).toBeCloseTo(115, 9);
    expect(late?.result?.ok && late.result.timing.submittedAt).toBe(105);
    expect(finishedAt(late as Outcome)).toBeCloseTo(120, 9);
    // The vCPU was busy from 0 to 120 ms and did 120 ms of work: none lost, none invented.
    expect(host.snapshot().vms[0].cpuSeconds).toBeCloseTo(0.12, 9);
  });

  it('on time, nothing changes: the same instants with and without a stall-free StalledClock', () => {
    const clock = new StalledClock(0, 0);
    const lateness: number[] = [];
    const { submit } = oneVcpuHost(clock, lateness);
    const short = submit(10);
    const long = submit(100);
    clock.inner.runUntilIdle();
    expect(finishedAt(short)).toBeCloseTo(20, 9);
    expect(finishedAt(long)).toBeCloseTo(110, 9);
    expect(lateness.every((ms) => ms === 0)).toBe(true);
  });
});
