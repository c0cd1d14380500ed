import { describe, expect, it } from 'vitest';
import { createFleet } from '../../backends/hypervisor/fleet.js';
import { resolveCostModel } from '../../backends/hypervisor/cost-model.js';
import { parseScenario } from '../../core/scenario.js';
import { VirtualClock } from '../../core/virtual-clock.js';
import { bench, NATIVE_COSTS, timing } from './fixtures.js';

/**
 * The hypervisor host's runtime controls (the dashboard's fault buttons), on the VirtualClock: each
 * acts at the instant it is called, as one model event, with the consequences a scenario fault or
 * owner interval has.
 */
describe('runtime controls of a host model', () => {
  it('crash fails the running requests at once, gives their cores to the neighbours, and restore brings the VM back', () => {
    const b = bench({ cores: 1, memoryMb: 4096 }, [{ name: 'a' }, { name: 'b' }]);
    const events: string[] = [];
    b.host.onStatusChange((vm, status) => events.push(`${b.clock.now()} ${vm} ${status}`));
    b.host.start();
    const a = b.submit('a', { cpuMs: 100 });
    const n = b.submit('b', { cpuMs: 100 });
    b.clock.advance(50);
    b.host.crash('a');
    expect(a.result).toEqual({ ok: false, reason: 'crashed', vm: 'a', host: 'h' });
    expect(b.host.status('a')).toBe('crashed');
    const refused = b.submit('a', { cpuMs: 1 });
    b.clock.advance(1);
    expect(refused.result).toMatchObject({ ok: false, reason: 'crashed' });
    b.clock.runUntilIdle();
    // b had half the core for 50 ms (25 ms of work), then the whole core for its last 75 ms.
    expect(timing(n).finishedAt).toBeCloseTo(125, 9);
    b.host.restore('a');
    const after = b.submit('a', { cpuMs: 10 });
    b.clock.runUntilIdle();
    expect(timing(after).finishedAt - timing(after).submittedAt).toBeCloseTo(10, 9);
    expect(events).toEqual(['50 a crashed', '125 a running']);
  });

  it('restore ends only the crash it started, never a crash fault of the scenario', () => {
    const b = bench({ cores: 1, memoryMb: 4096 }, [{ name: 'a' }], { faults: [{ vm: 'a', at: 0, for: 1000 }] });
    b.host.start();
    b.clock.advance(10);
    b.host.restore('a');
    expect(b.host.status('a')).toBe('crashed');
    b.host.crash('a');
    b.host.restore('a');
    expect(b.host.status('a')).toBe('crashed');
    b.clock.advance(1000);
    expect(b.host.status('a')).toBe('running');
  });

  it('owner returns (suspend): the VM makes no progress for exactly that long, its neighbour is untouched', () => {
    const b = bench({ cores: 2, memoryMb: 4096 }, [{ name: 'a' }, { name: 'b' }]);
    const events: string[] = [];
    b.host.onStatusChange((vm, status) => events.push(`${b.clock.now()} ${vm} ${status}`));
    b.host.start();
    const a = b.submit('a', { cpuMs: 100 });
    const n = b.submit('b', { cpuMs: 100 });
    b.clock.advance(20);
    b.host.ownerReturns('a', 'suspend', 50);
    b.clock.runUntilIdle();
    expect(timing(a).finishedAt).toBeCloseTo(150, 9);
    expect(timing(a).suspendedMs).toBeCloseTo(50, 9);
    expect(timing(n).finishedAt).toBeCloseTo(100, 9);
    expect(events).toEqual(['20 a suspended', '70 a running']);
    expect(() => b.host.ownerReturns('a', 'suspend', 0)).toThrow(/positive, finite/);
  });

  it('owner returns (migrate): the VM is down for the migration time of its memory', () => {
    const { migration } = resolveCostModel({ migration: { baseMs: 200, msPerGb: 1000 } });
    const b = bench({ cores: 2, memoryMb: 8192 }, [{ name: 'a', memoryMb: 2048 }], { costModel: { ...NATIVE_COSTS, migration } });
    b.host.start();
    const a = b.submit('a', { cpuMs: 100 });
    b.clock.advance(10);
    b.host.ownerReturns('a', 'migrate', 1);
    expect(b.host.status('a')).toBe('migrating');
    b.clock.runUntilIdle();
    // 200 ms + 1000 ms per GB of its 2 GB, whatever forMs said.
    expect(timing(a).suspendedMs).toBeCloseTo(2200, 9);
    expect(timing(a).finishedAt).toBeCloseTo(2300, 9);
    expect(b.host.status('a')).toBe('running');
  });

  it('host load on a Type 2 host takes cores from the VMs from that instant; a Type 1 host refuses it', () => {
    const b = bench({ hypervisor: 'type2', cores: 1, memoryMb: 4096 }, [{ name: 'a' }]);
    b.host.start();
    const a = b.submit('a', { cpuMs: 100 });
    b.host.setHostLoad(1);
    expect(b.host.hostLoad()).toBe(1);
    b.clock.advance(100);
    // Half the core for 100 ms (weight 1 against the host's load of 1), then the whole core.
    b.host.setHostLoad(0);
    b.clock.runUntilIdle();
    expect(timing(a).finishedAt).toBeCloseTo(150, 9);
    expect(timing(a).stealMs).toBeCloseTo(50, 9);
    expect(() => b.host.setHostLoad(-1)).toThrow(/>= 0/);

    const t1 = bench({ hypervisor: 'type1', cores: 1, memoryMb: 4096 }, [{ name: 'a' }]);
    expect(() => t1.host.setHostLoad(1)).toThrow(/Type 1/);
  });

  it("a fleet's host changes its own copy of the spec, never the caller's scenario", () => {
    const scenario = parseScenario({
      name: 'copy',
      hosts: [{ name: 'h', hypervisor: 'type2', cores: 2, memoryMb: 4096, hostLoad: 0.5 }],
      vms: [{ name: 'v', host: 'h', memoryMb: 512 }],
      workload: { classes: [{ name: 'c', share: 1, cpuMs: 1 }] },
    });
    const fleet = createFleet(scenario, { clock: new VirtualClock() });
    fleet.host('h').setHostLoad(1.5);
    expect(fleet.host('h').hostLoad()).toBe(1.5);
    expect(scenario.hosts[0].hostLoad).toBe(0.5);
  });
});
