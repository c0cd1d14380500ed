import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../core/virtual-clock.js';
import type { Clock } from '../../core/clock.js';
import { DeadlineQueue, EXPIRIES_PER_TURN, INITIAL_CAPACITY, type DeadlineOwner } from '../../dispatcher/balancer/deadlines.js';

class Owner implements DeadlineOwner {
  generation = 0;
  passed: Array<[number, number]> = [];
  constructor(private readonly clock: VirtualClock) {}
  awaits(_queue: DeadlineQueue, generation: number): boolean {
    return generation === this.generation;
  }
  deadlinePassed(_queue: DeadlineQueue, generation: number): void {
    this.passed.push([generation, this.clock.now()]);
  }
}

describe('DeadlineQueue', () => {
  it('calls each owner that still waits at exactly its deadline, in order, and skips finished ones', () => {
    const clock = new VirtualClock();
    const q = new DeadlineQueue(clock, 100);
    const a = new Owner(clock);
    const b = new Owner(clock);
    a.generation = 1;
    q.add(a, 1);
    clock.advance(30);
    b.generation = 1;
    q.add(b, 1);
    clock.advance(10);
    b.generation = 2; // b finished (or moved on) before its deadline
    q.add(b, 2);
    clock.runUntilIdle();
    expect(a.passed).toEqual([[1, 100]]);
    expect(b.passed).toEqual([[2, 140]]);
    expect(q.size).toBe(0);
  });

  it('holds finished deadlines only until its ring is full, never more than its first capacity while few wait', () => {
    const clock = new VirtualClock();
    const q = new DeadlineQueue(clock, 1000);
    const owners = Array.from({ length: 5000 }, () => new Owner(clock));
    let largest = 0;
    for (const [i, owner] of owners.entries()) {
      owner.generation = 1;
      q.add(owner, 1);
      largest = Math.max(largest, q.size);
      clock.advance(0.1);
      if (i >= 3) owners[i - 3].generation = 2; // requests finish a few arrivals later
    }
    // Swept when full, so the 5,000 deadlines never all sit in it at once: finished requests are let go.
    expect(largest).toBeLessThanOrEqual(INITIAL_CAPACITY);
    expect(q.size).toBeLessThan(INITIAL_CAPACITY);
    clock.runUntilIdle();
    expect(owners.filter((o) => o.passed.length > 0)).toHaveLength(3);
    expect(owners.slice(-3).map((o) => o.passed.length)).toEqual([1, 1, 1]);
    expect(q.size).toBe(0);
  });

  it('grows when most of what it holds still waits, and ends every waiting deadline in order', () => {
    const clock = new VirtualClock();
    const q = new DeadlineQueue(clock, 500);
    const owners = Array.from({ length: 3000 }, () => new Owner(clock));
    const addedAt: number[] = [];
    for (const owner of owners) {
      owner.generation = 1;
      q.add(owner, 1);
      addedAt.push(clock.now());
      clock.advance(0.1);
    }
    expect(q.size).toBe(3000);
    clock.runUntilIdle();
    expect(owners.map((o) => o.passed)).toEqual(addedAt.map((atMs) => [[1, atMs + 500]]));
  });

  it('does not keep finished deadlines behind one that still waits: a slow request holds only itself (issue 19)', () => {
    const clock = new VirtualClock();
    const q = new DeadlineQueue(clock, 10_000);
    const slow = new Owner(clock);
    slow.generation = 1;
    q.add(slow, 1);
    const owners = Array.from({ length: 8 }, () => new Owner(clock));
    for (let i = 0; i < 100_000; i++) {
      const owner = owners[i % owners.length];
      owner.generation++;
      q.add(owner, owner.generation);
      clock.advance(0.01);
    }
    // Without sweeping, every one of the 100,000 deadlines added after the slow one would be held.
    expect(q.size).toBeLessThan(3000);
    clock.runUntilIdle();
    expect(slow.passed).toEqual([[1, 10_000]]);
    // Only each owner's last deadline still waited.
    expect(owners.every((o) => o.passed.length === 1 && o.passed[0][0] === o.generation)).toBe(true);
    expect(q.size).toBe(0);
  });

  it('ends at most EXPIRIES_PER_TURN deadlines per timer callback and re-arms for now, so I/O runs between batches of a burst', () => {
    // A clock whose one timer fires only when told: each fire() is one turn of the event loop.
    let nowMs = 0;
    let armedForMs: number | undefined;
    let fire = (): void => undefined;
    const clock: Clock = {
      now: () => nowMs,
      schedule: () => () => undefined,
      timer: (fn) => {
        fire = fn;
        return { set: (delayMs) => (armedForMs = nowMs + Math.max(0, delayMs)), clear: () => (armedForMs = undefined) };
      },
    };
    const q = new DeadlineQueue(clock, 100);
    const passed: number[] = [];
    const owners = Array.from({ length: 3 * EXPIRIES_PER_TURN + 6 }, (_, i) => ({
      waits: i % 3 !== 0, // every third finished before its deadline: it costs no ending
      awaits(): boolean {
        return this.waits;
      },
      deadlinePassed(): void {
        passed.push(i);
      },
    }));
    for (const owner of owners) q.add(owner, 0);
    const waiting = owners.flatMap((o, i) => (o.waits ? [i] : []));
    expect(waiting).toHaveLength(2 * EXPIRIES_PER_TURN + 4);
    expect(armedForMs).toBe(100);

    nowMs = 100;
    const perTurn: number[] = [];
    while (armedForMs !== undefined && armedForMs <= nowMs && perTurn.length < 10) {
      armedForMs = undefined;
      const before = passed.length;
      fire();
      perTurn.push(passed.length - before);
      // Whatever was left due is armed for now, not later.
      if (passed.length < waiting.length) expect(armedForMs).toBe(nowMs);
    }
    expect(perTurn).toEqual([EXPIRIES_PER_TURN, EXPIRIES_PER_TURN, 4]);
    expect(passed).toEqual(waiting);
    expect(q.size).toBe(0);
  });

  it('ends a burst of deadlines due together at their one instant on the virtual clock', () => {
    const clock = new VirtualClock();
    const q = new DeadlineQueue(clock, 2000);
    const owners = Array.from({ length: 10 * EXPIRIES_PER_TURN }, () => new Owner(clock));
    for (const owner of owners) q.add(owner, 0);
    clock.runUntilIdle();
    expect(owners.map((o) => o.passed)).toEqual(owners.map(() => [[0, 2000]]));
  });

  it('ends exactly the deadlines still awaited, each at its add time plus the timeout and in the order added, whatever finishes when (against a list of every deadline)', () => {
    // Steps: add a deadline for an owner (its next generation), finish an owner's current
    // generation, or let time pass: about 1,200 adds per timeout, so the ring fills many times over and
    // is swept or grown after its head has moved on (wrapped round), and deadlines expire meanwhile.
    const step = fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('add' as const), owner: fc.nat(199) }) },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('finish' as const), owner: fc.nat(199) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 5 }) }) },
    );
    fc.assert(
      fc.property(fc.array(step, { minLength: 3000, maxLength: 6000 }), (steps) => {
        const clock = new VirtualClock();
        const timeoutMs = 1000;
        const q = new DeadlineQueue(clock, timeoutMs);
        const owners = Array.from({ length: 200 }, () => new Owner(clock));
        const fired: Array<[number, number, number]> = [];
        owners.forEach((o, i) => (o.deadlinePassed = (_q, generation) => void fired.push([i, generation, clock.now()])));
        // The reference: every deadline added, and when its owner next moved on (a later add or a
        // finish); a deadline is still awaited at its instant unless its owner moved on before it.
        // (Times are whole milliseconds, so add time plus timeout is exact.)
        const added: Array<{ owner: number; generation: number; atMs: number; movedOnAtMs: number }> = [];
        const current = new Map<number, (typeof added)[number]>();
        const moveOn = (owner: number): void => {
          const last = current.get(owner);
          if (last !== undefined) last.movedOnAtMs = Math.min(last.movedOnAtMs, clock.now());
          current.delete(owner);
        };
        for (const s of steps) {
          if (s.kind === 'wait') clock.advance(s.ms);
          else if (s.kind === 'finish') {
            owners[s.owner].generation++;
            moveOn(s.owner);
          } else {
            const o = owners[s.owner];
            o.generation++;
            moveOn(s.owner);
            q.add(o, o.generation);
            const d = { owner: s.owner, generation: o.generation, atMs: clock.now(), movedOnAtMs: Infinity };
            added.push(d);
            current.set(s.owner, d);
          }
        }
        clock.advance(timeoutMs);
        // A move at the deadline's very instant comes after it: the clock ran the timer first.
        const expected = added
          .filter((d) => d.movedOnAtMs >= d.atMs + timeoutMs)
          .map((d): [number, number, number] => [d.owner, d.generation, d.atMs + timeoutMs]);
        expect(fired).toEqual(expected);
        expect(q.size).toBe(0);
      }),
      { numRuns: 30, endOnFailure: true },
    );
  });
});
