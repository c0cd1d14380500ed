import { describe, expect, it } from 'vitest';
import { createHost } from '../../backends/hypervisor/host.js';
import { DEFAULT_COST_MODEL } from '../../backends/hypervisor/cost-model.js';
import { VirtualClock } from '../../core/virtual-clock.js';
import { bench, latencyMs, specs } from './fixtures.js';

function latencyBeside(neighbourMb: number, host: Record<string, unknown> = { hypervisor: 'type2' }): number {
  const b = bench({ cores: 4, memoryMb: 4096, ...host }, [
    { name: 'a', memoryMb: 2048 },
    { name: 'other', memoryMb: neighbourMb, serves: false },
  ]);
  const job = b.submit('a', { cpuMs: 10, memoryMb: 64 });
  b.clock.runUntilIdle();
  return latencyMs(job);
}

describe('memory overcommit', () => {
  it('Type 2: requests get slower the more the host is overcommitted', () => {
    const latencies = [1024, 3072, 6144, 12288].map((mb) => latencyBeside(mb));
    expect(latencies[0]).toBeCloseTo(10, 9); // fits: no swapping
    for (let i = 1; i < latencies.length; i++) expect(latencies[i]).toBeGreaterThan(latencies[i - 1]);
    // The documented formula: 64 MB x (1 - 4096 / 5120) x 10 ms/MB on top of 10 ms; the request's
    // 64 MB live inside its VM's 2048 MB, all resident by default, so they add no demand.
    expect(latencies[1]).toBeCloseTo(10 + 64 * (1 - 4096 / (2048 + 3072)) * DEFAULT_COST_MODEL.swap.msPerMb, 9);
  });

  it('reports swapped memory per VM while overcommitted', () => {
    const b = bench({ hypervisor: 'type2', cores: 4, memoryMb: 4096 }, [
      { name: 'a', memoryMb: 4096 },
      { name: 'b', memoryMb: 4096 },
    ]);
    const snap = b.host.snapshot();
    expect(snap.memoryDemandMb).toBe(8192);
    expect(snap.vms.map((v) => v.swappedMb)).toEqual([2048, 2048]);
    // A VM's memory is its maximum: a request's working set lives inside it.
    b.submit('a', { cpuMs: 10, memoryMb: 1024 });
    expect(b.host.snapshot().memoryDemandMb).toBe(8192);
  });

  it('counts what the VMs use (residentMb plus running working sets, at most memoryMb), not their maximum', () => {
    const b = bench({ hypervisor: 'type2', cores: 4, memoryMb: 4096 }, [
      { name: 'a', vcpus: 2, memoryMb: 4096, residentMb: 1024 },
      { name: 'b', memoryMb: 4096, residentMb: 2048 },
    ]);
    expect(b.host.snapshot().memoryDemandMb).toBe(3072);
    const fits = b.submit('a', { cpuMs: 10, memoryMb: 512 });
    expect(b.host.snapshot().vms.map((v) => v.swappedMb)).toEqual([0, 0]);
    // 1536 + 512 + 2048 = 4096 MB, then a further 2048 MB working set in b: 6144 MB, a third out.
    b.submit('a', { cpuMs: 10, memoryMb: 512 });
    const swapping = b.submit('b', { cpuMs: 10, memoryMb: 2048 });
    const snap = b.host.snapshot();
    expect(snap.memoryDemandMb).toBe(2048 + 4096);
    expect(snap.vms[0].swappedMb).toBeCloseTo(2048 / 3, 9);
    expect(snap.vms[1].swappedMb).toBeCloseTo(4096 / 3, 9);
    b.clock.runUntilIdle();
    expect(latencyMs(fits)).toBeCloseTo(10, 9);
    expect(latencyMs(swapping)).toBeCloseTo(10 + 2048 * (1 - 4096 / 6144) * DEFAULT_COST_MODEL.swap.msPerMb, 6);
  });

  it('Type 1 refuses overcommit unless the scenario allows it', () => {
    const s = specs({ cores: 4, memoryMb: 4096 }, [{ name: 'a', memoryMb: 3072, count: 2 }]);
    const deps = { clock: new VirtualClock(), costModel: DEFAULT_COST_MODEL };
    expect(() => createHost(s.host, s.vms, deps)).toThrow(/type1 host "h" has 4096 MB but its VMs total 6144 MB.*allowOvercommit/);
    const allowed = specs({ cores: 4, memoryMb: 4096, allowOvercommit: true }, [{ name: 'a', memoryMb: 3072, count: 2 }]);
    expect(() => createHost(allowed.host, allowed.vms, deps)).not.toThrow();
  });

  it('Type 1 without overcommit never swaps', () => {
    expect(latencyBeside(2048 - 64, { hypervisor: 'type1' })).toBeCloseTo(10, 9);
  });
});
