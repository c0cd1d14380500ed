import { describe, expect, it } from 'vitest';
import { resolveCostModel } from '../../backends/hypervisor/cost-model.js';
import { bench, NATIVE_COSTS, timing, type Bench } from './fixtures.js';

/**
 * Overlapping owner visits, on the VirtualClock: the runtime control ownerReturns and the scenario's
 * owner intervals merge, so a VM stays suspended until the last visit covering the instant has
 * ended, whichever kind each visit is and whichever ends first.
 */

/** The status changes of `b`'s VMs, as "at vm status". */
function watch(b: Bench): string[] {
  const events: string[] = [];
  b.host.onStatusChange((vm, status) => events.push(`${b.clock.now()} ${vm} ${status}`));
  return events;
}

describe('overlapping runtime owner visits (suspend)', () => {
  // [first visit's length, when the second comes, its length, a check while the first is over, when the VM runs again]
  it.each([
    ['two overlapping visits: suspended until the later one ends', 4000, 2000, 4000, 4000, 6000],
    ['a long visit, then a short one inside it: the short one does not end the long one', 60_000, 100, 1000, 10_100, 60_000],
  ])('%s, and no progress meanwhile', (_name, firstMs, secondAtMs, secondMs, checkAtMs, runsAtMs) => {
    const b = bench({ cores: 1, memoryMb: 4096 }, [{ name: 'a' }]);
    const events = watch(b);
    b.host.start();
    const job = b.submit('a', { cpuMs: 100 });
    b.host.ownerReturns('a', 'suspend', firstMs);
    b.clock.advance(secondAtMs);
    b.host.ownerReturns('a', 'suspend', secondMs);
    b.clock.advance(checkAtMs - secondAtMs);
    expect(b.host.status('a')).toBe('suspended');
    expect(job.result).toBeUndefined();
    b.clock.runUntilIdle();
    expect(timing(job).suspendedMs).toBeCloseTo(runsAtMs, 9);
    expect(timing(job).finishedAt).toBeCloseTo(runsAtMs + 100, 9);
    expect(events).toEqual(['0 a suspended', `${runsAtMs} a running`]);
  });
});

describe('runtime visits mixed with the scenario owner', () => {
  const host = { cores: 2, memoryMb: 4096, owner: [{ at: 1000, for: 2000 }], onOwnerReturn: 'suspend' };
  const vms = [{ name: 'h', harvested: true }, { name: 'o' }];

  it('the scenario owner first, a runtime visit ending later: the scenario owner leaving does not end it', () => {
    const b = bench(host, vms);
    const events = watch(b);
    b.host.start();
    // 1 s of work before the owner comes at 1 s, then suspended until the visit ends at 4 s.
    const job = b.submit('h', { cpuMs: 2000 });
    b.clock.advance(2000);
    b.host.ownerReturns('h', 'suspend', 2000);
    b.clock.advance(1500);
    expect(b.host.snapshot().ownerActive).toBe(false);
    expect(b.host.status('h')).toBe('suspended');
    b.clock.runUntilIdle();
    expect(timing(job).finishedAt).toBeCloseTo(5000, 9);
    expect(timing(job).suspendedMs).toBeCloseTo(3000, 9);
    expect(events).toEqual(['1000 h suspended', '4000 h running']);
  });

  it('a runtime visit on a VM the scenario owner ignores survives that owner leaving', () => {
    const b = bench(host, vms);
    const events = watch(b);
    b.host.start();
    b.clock.advance(2000);
    b.host.ownerReturns('o', 'suspend', 2000);
    const job = b.submit('o', { cpuMs: 100 });
    b.clock.advance(1500);
    expect(b.host.snapshot().ownerActive).toBe(false);
    expect(b.host.status('o')).toBe('suspended');
    b.clock.runUntilIdle();
    expect(timing(job).finishedAt).toBeCloseTo(4100, 9);
    expect(timing(job).suspendedMs).toBeCloseTo(2000, 9);
    expect(events).toEqual(['1000 h suspended', '2000 o suspended', '3000 h running', '4000 o running']);
  });

  it('a runtime visit first, covering the whole scenario interval: suspended until the visit ends', () => {
    const b = bench(host, vms);
    const events = watch(b);
    b.host.start();
    const job = b.submit('h', { cpuMs: 100 });
    b.host.ownerReturns('h', 'suspend', 4000);
    b.clock.runUntilIdle();
    expect(timing(job).finishedAt).toBeCloseTo(4100, 9);
    expect(timing(job).suspendedMs).toBeCloseTo(4000, 9);
    expect(events).toEqual(['0 h suspended', '4000 h running']);
  });

  it('a runtime visit first, ending inside the scenario interval: suspended until the scenario owner leaves', () => {
    const b = bench(host, vms);
    const events = watch(b);
    b.host.start();
    const job = b.submit('h', { cpuMs: 100 });
    b.host.ownerReturns('h', 'suspend', 1500);
    b.clock.runUntilIdle();
    expect(timing(job).finishedAt).toBeCloseTo(3100, 9);
    expect(events).toEqual(['0 h suspended', '3000 h running']);
  });

  it('a visit to a harvested VM of a migrate host outlasts the owner interval and its migration', () => {
    const b = bench({ ...host, onOwnerReturn: 'migrate' }, vms, {
      costModel: { ...NATIVE_COSTS, migration: resolveCostModel({ migration: { baseMs: 100, msPerGb: 0 } }).migration },
    });
    const events = watch(b);
    b.host.start();
    b.host.ownerReturns('h', 'suspend', 3500);
    b.clock.runUntilIdle();
    expect(events).toEqual(['0 h suspended', '1000 h migrating', '1100 h suspended', '3500 h running']);
  });
});

describe('runtime owner visits (migrate)', () => {
  const migration = resolveCostModel({ migration: { baseMs: 200, msPerGb: 1000 } }).migration;
  const costModel = { ...NATIVE_COSTS, migration };

  it('a second migrate during a migration joins it: down once, for one migration time', () => {
    const b = bench({ cores: 2, memoryMb: 8192 }, [{ name: 'a', memoryMb: 2048 }], { costModel });
    const events = watch(b);
    b.host.start();
    const job = b.submit('a', { cpuMs: 100 });
    b.host.ownerReturns('a', 'migrate', 1);
    b.clock.advance(1000);
    b.host.ownerReturns('a', 'migrate', 1);
    b.clock.runUntilIdle();
    expect(timing(job).suspendedMs).toBeCloseTo(2200, 9);
    expect(events).toEqual(['0 a migrating', '2200 a running']);
    // Once it is back, the next return migrates it again.
    b.host.ownerReturns('a', 'migrate', 1);
    expect(b.host.status('a')).toBe('migrating');
  });

  it('a suspend during a migration: down until the later of the two ends, whichever ends first', () => {
    const b = bench({ cores: 2, memoryMb: 8192 }, [{ name: 'a', memoryMb: 2048 }, { name: 'b', memoryMb: 2048 }], { costModel });
    const events = watch(b);
    b.host.start();
    const a = b.submit('a', { cpuMs: 100 });
    const n = b.submit('b', { cpuMs: 100 });
    // a: migrating 0-2200, a visit 1000-1500 inside it. b: migrating 0-2200, a visit 1000-3000.
    b.host.ownerReturns('a', 'migrate', 1);
    b.host.ownerReturns('b', 'migrate', 1);
    b.clock.advance(1000);
    b.host.ownerReturns('a', 'suspend', 500);
    b.host.ownerReturns('b', 'suspend', 2000);
    b.clock.runUntilIdle();
    expect(timing(a).finishedAt).toBeCloseTo(2300, 9);
    expect(timing(n).finishedAt).toBeCloseTo(3100, 9);
    expect(timing(n).suspendedMs).toBeCloseTo(3000, 9);
    expect(events).toEqual(['0 a migrating', '0 b migrating', '2200 a running', '2200 b suspended', '3000 b running']);
  });

  it('a migration during a suspend: down until the later of the two ends', () => {
    const b = bench({ cores: 1, memoryMb: 8192 }, [{ name: 'a', memoryMb: 2048 }], { costModel });
    const events = watch(b);
    b.host.start();
    const job = b.submit('a', { cpuMs: 100 });
    b.host.ownerReturns('a', 'suspend', 3000);
    b.clock.advance(500);
    b.host.ownerReturns('a', 'migrate', 1);
    b.clock.runUntilIdle();
    expect(timing(job).finishedAt).toBeCloseTo(3100, 9);
    expect(events).toEqual(['0 a suspended', '500 a migrating', '2700 a suspended', '3000 a running']);
  });
});
