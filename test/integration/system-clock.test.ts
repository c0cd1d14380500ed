import { describe, expect, it } from 'vitest';
import { systemClock } from '../../core/clock.js';

describe('systemClock', () => {
  it('never runs a callback a whole millisecond or more before its due time, fractional delays included', async () => {
    const early: number[] = [];
    const delaysMs = [0, 0.3, 1, 1.7, 2.5, 3.2, 4.9, 5.01, 7.5, 10.25];
    await Promise.all(
      delaysMs.map(
        (delayMs) =>
          new Promise<void>((resolve) => {
            const dueMs = systemClock.now() + delayMs;
            systemClock.schedule(delayMs, () => {
              if (systemClock.now() <= dueMs - 1) early.push(dueMs - systemClock.now());
              resolve();
            });
          }),
      ),
    );
    expect(early).toEqual([]);
  });

  it('does not run a cancelled callback', async () => {
    let ran = false;
    const cancel = systemClock.schedule(1, () => (ran = true));
    cancel();
    await new Promise((resolve) => systemClock.schedule(5, () => resolve(undefined)));
    expect(ran).toBe(false);
  });

  it('a timer runs once, at its last arming; a cleared one not at all', async () => {
    const runs: number[] = [];
    const startMs = systemClock.now();
    const timer = systemClock.timer(() => runs.push(systemClock.now() - startMs));
    timer.set(1);
    timer.set(8); // replaces 1
    const cleared = systemClock.timer(() => runs.push(-1));
    cleared.set(2);
    cleared.clear();
    await new Promise((resolve) => systemClock.schedule(20, () => resolve(undefined)));
    expect(runs).toHaveLength(1);
    expect(runs[0]).toBeGreaterThan(7);
  });
});
