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
