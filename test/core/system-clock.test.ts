import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';

describe('systemClock', () => {
  it('never runs a callback before its due time, fractional delays included', async () => {
    const early: number[] = [];
    const delaysMs = [0, 0.3, 1, 1.7, 2.5, 3.2, 4.9, 5.01, 7.5, 10.25];
    await Promise.all(
      delaysMs.map(
        (delayMs) =>
          new Promise<void>((resolve) => {
            const dueMs = systemClock.now() + delayMs;
            systemClock.schedule(delayMs, () => {
              if (systemClock.now() < dueMs) early.push(dueMs - systemClock.now());
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
});
