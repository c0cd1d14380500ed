import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { preciseClock } from '../../core/precise-clock.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => preciseClock.schedule(ms, resolve));

describe('preciseClock', () => {
  it('never runs a callback before its due time, and runs them in due order, ties in the order set', async () => {
    const early: number[] = [];
    const order: string[] = [];
    const delaysMs = [10.25, 0, 3.2, 0.3, 7.5, 1, 3.2, 1.7, 5.01, 2.5, 4.9];
    const duesMs: number[] = [];
    await Promise.all(
      delaysMs.map(
        (delayMs, i) =>
          new Promise<void>((resolve) => {
            const dueMs = preciseClock.now() + delayMs;
            duesMs.push(dueMs);
            preciseClock.schedule(delayMs, () => {
              if (preciseClock.now() < dueMs) early.push(dueMs - preciseClock.now());
              order.push(`${delayMs}#${i}`);
              resolve();
            });
          }),
      ),
    );
    expect(early).toEqual([]);
    // In the order they fall due (a later call's 4.9 ms can fall due after an earlier call's 5.01 ms).
    const expected = delaysMs.map((d, i) => ({ d, i, dueMs: duesMs[i] })).sort((a, b) => a.dueMs - b.dueMs || a.i - b.i);
    expect(order).toEqual(expected.map(({ d, i }) => `${d}#${i}`));
  });

  it('does not run a cancelled callback, and one cancelled ahead of others does not hold them back', async () => {
    let ran = false;
    const cancel = preciseClock.schedule(1, () => (ran = true));
    cancel();
    const startMs = preciseClock.now();
    await sleep(3);
    expect(ran).toBe(false);
    expect(preciseClock.now() - startMs).toBeGreaterThanOrEqual(3);
  });

  it('runs what a callback schedules for now, and a timer once, at its last arming; a cleared one not at all', async () => {
    const runs: string[] = [];
    const startMs = preciseClock.now();
    const timer = preciseClock.timer(() => runs.push(`timer at ${preciseClock.now() - startMs >= 8}`));
    timer.set(1);
    timer.set(8); // replaces 1
    const cleared = preciseClock.timer(() => runs.push('cleared'));
    cleared.set(2);
    cleared.clear();
    preciseClock.schedule(2, () => preciseClock.schedule(0, () => runs.push('nested')));
    await sleep(20);
    expect(runs).toEqual(['nested', 'timer at true']);
  });

  it('never holds a process open: its worker thread is unref\'d', async () => {
    const script = "import('./core/precise-clock.ts').then(({ preciseClock }) => { preciseClock.schedule(600_000, () => process.exit(3)); preciseClock.schedule(1, () => console.log('ran')); setTimeout(() => undefined, 100); })";
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '-e', script], { timeout: 60_000 });
    expect(stdout.trim()).toBe('ran');
  });
});
