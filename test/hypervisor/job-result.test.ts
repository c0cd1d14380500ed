import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createHost } from '../../backends/hypervisor/host.js';
import type { JobResult } from '../../backends/hypervisor/types.js';
import { VirtualClock } from '../../core/virtual-clock.js';
import { NATIVE_COSTS, specs } from './fixtures.js';

// A completed job is handed to its caller as its own result (no second object): what the caller
// holds, the result and the handle, must stay as delivered whatever the host does afterwards.
describe('a completed job as its own result', () => {
  it('keeps its timing after later events, and its handle no longer acts', () => {
    const clock = new VirtualClock();
    const s = specs({ cores: 1, memoryMb: 4096 }, [{ name: 'vm', vcpus: 1, memoryMb: 512 }]);
    const host = createHost(s.host, s.vms, { clock, costModel: NATIVE_COSTS });
    const results: JobResult[][] = [[], [], []];
    const cost = (cpuMs: number) => ({ cpuMs, ioOps: 0, pageTableUpdates: 0, memoryMb: 0 });
    const a = host.submit('vm', cost(10), (r) => results[0].push(r));
    host.submit('vm', cost(20), (r) => results[1].push(r));
    // One vCPU shared by two requests: a finishes at 20 ms (10 ms of CPU at half a core).
    clock.runUntil(20);
    expect(results[0]).toHaveLength(1);
    const first = results[0][0];
    if (!first.ok) throw new Error(`a failed: ${first.reason}`);
    const timing = { ...first.timing };
    expect(timing).toMatchObject({ vm: 'vm', host: 'h', submittedAt: 0, finishedAt: 20, serviceMs: 10, queuedMs: 10, stealMs: 0, suspendedMs: 0 });
    // Cancelling a job that already ended changes nothing: the other request keeps its pace.
    a.cancel();
    host.submit('vm', cost(5), (r) => results[2].push(r));
    clock.runUntilIdle();
    expect(results[0]).toHaveLength(1);
    expect({ ...first.timing }).toEqual(timing);
    const second = results[1][0];
    const third = results[2][0];
    if (!second.ok || !third.ok) throw new Error('b or c failed');
    expect(third.timing.finishedAt).toBeCloseTo(30, 9);
    expect(second.timing.finishedAt).toBeCloseTo(35, 9);
    expect(second.timing.serviceMs).toBeCloseTo(20, 9);
  });
});

// The order a VM's jobs finish in, ties included, and their times, as the VM goes from one job to
// several and back, with cancelled jobs among them (lazily deleted from its job heap).
describe('a VM with one job, then more', () => {
  const cost = (cpuMs: number) => ({ cpuMs, ioOps: 0, pageTableUpdates: 0, memoryMb: 0 });
  const setup = () => {
    const clock = new VirtualClock();
    const s = specs({ cores: 1, memoryMb: 4096 }, [{ name: 'vm', vcpus: 1, memoryMb: 512 }]);
    const host = createHost(s.host, s.vms, { clock, costModel: NATIVE_COSTS });
    const done: string[] = [];
    const submit = (name: string, cpuMs: number) => host.submit('vm', cost(cpuMs), (r) => done.push(`${name}${r.ok ? '' : ` ${r.reason}`}@${+clock.now().toFixed(9)}`));
    return { clock, submit, done };
  };

  it('a shorter second job overtakes the first; equal ones finish in submission order', () => {
    const { clock, submit, done } = setup();
    submit('alone', 4);
    clock.runUntilIdle();
    submit('long', 10);
    clock.advance(1);
    // 9 ms of work left on `long` when `short` comes at 5: sharing the vCPU, short ends at 5 + 2 * 2
    // and long, with 7 ms left then, at 16.
    submit('short', 2);
    clock.runUntilIdle();
    // Same tags: both started with the same work at the same instant.
    submit('a', 3);
    submit('b', 3);
    clock.runUntilIdle();
    expect(done).toEqual(['alone@4', 'short@9', 'long@16', 'a@22', 'b@22']);
  });

  it('a cancelled sole job is skipped, before and after others join it', () => {
    const { clock, submit, done } = setup();
    submit('gone', 5).cancel();
    submit('next', 2);
    clock.runUntilIdle();
    const first = submit('first', 10);
    submit('second', 10);
    clock.advance(2);
    first.cancel();
    // `second` had 1 ms of CPU by 4 ms and has the vCPU alone from then on.
    clock.runUntilIdle();
    expect(done).toEqual(['gone cancelled@0', 'next@2', 'first cancelled@4', 'second@13']);
  });
});

// The VM's job heap at any size: jobs that all start at one instant progress together, so they must
// finish in the order of their work, equal work in submission order, cancelled ones never.
describe('a VM with many jobs', () => {
  it('finishes them by work, ties in submission order, skipping cancelled ones wherever they sit in its heap', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ cpuMs: fc.integer({ min: 1, max: 8 }), cancelled: fc.boolean() }), { minLength: 1, maxLength: 60 }), (jobs) => {
        const clock = new VirtualClock();
        const s = specs({ cores: 1, memoryMb: 4096 }, [{ name: 'vm', vcpus: 1, memoryMb: 512 }]);
        const host = createHost(s.host, s.vms, { clock, costModel: NATIVE_COSTS });
        const finished: number[] = [];
        const handles = jobs.map((job, i) =>
          host.submit('vm', { cpuMs: job.cpuMs, ioOps: 0, pageTableUpdates: 0, memoryMb: 0 }, (r) => {
            if (r.ok) finished.push(i);
          }),
        );
        jobs.forEach((job, i) => {
          if (job.cancelled) handles[i].cancel();
        });
        clock.runUntilIdle();
        const expected = jobs
          .map((job, i) => ({ ...job, i }))
          .filter((job) => !job.cancelled)
          .sort((a, b) => a.cpuMs - b.cpuMs || a.i - b.i)
          .map((job) => job.i);
        expect(finished).toEqual(expected);
      }),
    );
  });
});
