import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { VirtualClock } from '../../core/virtual-clock.js';

describe('VirtualClock', () => {
  it('runs events in time order, and same-time events in scheduling order', () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    clock.schedule(20, () => log.push(`b@${clock.now()}`));
    clock.schedule(10, () => log.push(`a@${clock.now()}`));
    clock.schedule(20, () => log.push(`c@${clock.now()}`));
    clock.schedule(20, () => {
      log.push(`d@${clock.now()}`);
      clock.schedule(0, () => log.push(`e@${clock.now()}`));
    });
    clock.runUntilIdle();
    expect(log).toEqual(['a@10', 'b@20', 'c@20', 'd@20', 'e@20']);
  });

  it('cancel drops an event, and cancelling twice or after it ran is harmless', () => {
    const clock = new VirtualClock();
    const log: number[] = [];
    const cancel = clock.schedule(5, () => log.push(5));
    const ran = clock.schedule(1, () => log.push(1));
    cancel();
    cancel();
    clock.runUntilIdle();
    ran();
    expect(log).toEqual([1]);
    expect(clock.eventsRun).toBe(1);
  });

  it('runUntil runs what is due (inclusive) and sets the time; advance is relative', () => {
    const clock = new VirtualClock(100);
    const log: number[] = [];
    for (const d of [5, 10, 15]) clock.schedule(d, () => log.push(clock.now()));
    clock.runUntil(110);
    expect(log).toEqual([105, 110]);
    expect(clock.now()).toBe(110);
    clock.advance(2);
    expect(clock.now()).toBe(112);
    expect(log).toEqual([105, 110]);
    clock.advance(10);
    expect(log).toEqual([105, 110, 115]);
  });

  it('clamps negative delays to now and never goes back in time', () => {
    const clock = new VirtualClock(50);
    let at = -1;
    clock.schedule(-10, () => (at = clock.now()));
    clock.runUntil(40);
    expect(clock.now()).toBe(50);
    clock.runUntilIdle();
    expect(at).toBe(50);
  });

  it('a timer runs once per arming; re-arming replaces the earlier time and orders like a new schedule', () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    const timer = clock.timer(() => log.push(`t@${clock.now()}`));
    timer.set(10);
    timer.set(30); // replaces 10
    clock.schedule(30, () => log.push(`s@${clock.now()}`));
    clock.runUntil(20);
    expect(log).toEqual([]);
    timer.set(5); // re-armed after the schedule above: at 25
    clock.runUntilIdle();
    expect(log).toEqual(['t@25', 's@30']);
    // Same instant: the timer re-armed last runs after an event scheduled before it.
    clock.schedule(0, () => log.push(`s@${clock.now()}`));
    timer.set(0);
    clock.runUntilIdle();
    expect(log.slice(2)).toEqual(['s@30', 't@30']);
    expect(clock.eventsRun).toBe(4);
  });

  it('a cleared timer does not run, may be armed again, and its stale entries are not counted as run', () => {
    const clock = new VirtualClock();
    const log: number[] = [];
    const timer = clock.timer(() => log.push(clock.now()));
    timer.clear(); // not armed: harmless
    timer.set(5);
    timer.clear();
    clock.runUntil(10);
    expect(log).toEqual([]);
    timer.set(1);
    clock.runUntilIdle();
    expect(log).toEqual([11]);
    expect(clock.eventsRun).toBe(1);
    expect(clock.pending).toBe(0);
  });

  it('a timer may re-arm itself from its own callback', () => {
    const clock = new VirtualClock();
    const log: number[] = [];
    const timer = clock.timer(() => {
      log.push(clock.now());
      if (log.length < 3) timer.set(2);
    });
    timer.set(1);
    clock.runUntilIdle();
    expect(log).toEqual([1, 3, 5]);
  });

  it('runUntilIdle fails loudly on a model that never settles', () => {
    const clock = new VirtualClock();
    const loop = (): void => void clock.schedule(1, loop);
    loop();
    expect(() => clock.runUntilIdle(1000)).toThrow(/still busy after 1000 events/);
  });
});

describe('VirtualClock with near and far events', () => {
  // The clock keeps events armed 250 ms ahead or more in a heap of their own (health checks) and
  // merges both when stepping; the order must be exactly that of one queue ordered by (due time,
  // newest arming), whatever mix of near and far, ties, cancels and re-armed timers.
  type Op =
    | { kind: 'schedule'; delayMs: number }
    | { kind: 'timer'; which: number; delayMs: number }
    | { kind: 'cancel'; which: number }
    | { kind: 'run'; forMs: number };
  // Mostly multiples of 50 ms, so that near and far events often fall due at the same instant.
  const grid = fc.integer({ min: 0, max: 24 }).map((k) => k * 50);
  const delay = fc.oneof(grid, fc.constantFrom(249, 250, 251), fc.double({ min: 0, max: 1200, noNaN: true }));
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('schedule' as const), delayMs: delay }),
    fc.record({ kind: fc.constant('timer' as const), which: fc.nat(3), delayMs: delay }),
    fc.record({ kind: fc.constant('cancel' as const), which: fc.nat(20) }),
    fc.record({ kind: fc.constant('run' as const), forMs: fc.oneof(grid, fc.integer({ min: 0, max: 700 })) }),
  );

  it('runs events in (due time, arming order) across both heaps', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 20, maxLength: 80 }), (ops) => {
        const clock = new VirtualClock();
        const ran: string[] = [];
        const expected: string[] = [];
        // The reference: every armed event with its due time and the order it was (last) armed in.
        let armed = 0;
        const pending = new Map<string, { atMs: number; order: number }>();
        const arm = (id: string, delayMs: number): void => void pending.set(id, { atMs: clock.now() + delayMs, order: armed++ });
        const cancels: Array<{ id: string; cancel: () => void }> = [];
        const timers = [0, 1, 2, 3].map((t) => clock.timer(() => ran.push(`t${t}@${clock.now()}`)));
        const runUntil = (untilMs: number): void => {
          const due = [...pending].filter(([, e]) => e.atMs <= untilMs).sort(([, a], [, b]) => a.atMs - b.atMs || a.order - b.order);
          for (const [id, e] of due) {
            expected.push(`${id}@${e.atMs}`);
            pending.delete(id);
          }
          clock.runUntil(untilMs);
        };
        for (const o of ops) {
          if (o.kind === 'schedule') {
            const id = `s${cancels.length}`;
            cancels.push({ id, cancel: clock.schedule(o.delayMs, () => ran.push(`${id}@${clock.now()}`)) });
            arm(id, o.delayMs);
          } else if (o.kind === 'timer') {
            timers[o.which].set(o.delayMs);
            arm(`t${o.which}`, o.delayMs);
          } else if (o.kind === 'cancel') {
            const c = cancels[o.which];
            if (c === undefined) continue;
            c.cancel();
            pending.delete(c.id);
          } else runUntil(clock.now() + o.forMs);
        }
        runUntil(Infinity);
        expect(ran).toEqual(expected);
        expect(clock.pending).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});
