import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { preciseClock } from '../../core/precise-clock.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => preciseClock.schedule(ms, resolve));

describe('preciseClock', () => {
  it('never runs a callback before its due time, and runs them in due order', async () => {
    const early: number[] = [];
    const ran: number[] = [];
    const delaysMs = [10.25, 0, 3.2, 0.3, 7.5, 1, 3.2, 1.7, 5.01, 2.5, 4.9];
    // The clock reads its own now() inside schedule(): its due time lies between these two bounds
    // (on a busy machine this thread can be preempted between the reads, so they are not equal).
    const earliestDueMs: number[] = [];
    const latestDueMs: number[] = [];
    await Promise.all(
      delaysMs.map(
        (delayMs, i) =>
          new Promise<void>((resolve) => {
            earliestDueMs.push(preciseClock.now() + delayMs);
            preciseClock.schedule(delayMs, () => {
              const lateMs = preciseClock.now() - earliestDueMs[i];
              if (lateMs < 0) early.push(lateMs);
              ran.push(i);
              resolve();
            });
            latestDueMs.push(preciseClock.now() + delayMs);
          }),
      ),
    );
    expect(early).toEqual([]);
    expect([...ran].sort((a, b) => a - b)).toEqual(delaysMs.map((_, i) => i));
    // Due order: no callback ran before one that was certainly due earlier than it.
    const outOfOrder = ran.flatMap((i, at) => ran.slice(at + 1).filter((j) => latestDueMs[j] < earliestDueMs[i]).map((j) => `${i} before ${j}`));
    expect(outOfOrder).toEqual([]);
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
    // In due order 'nested' comes first, unless this thread was held up past 8 ms before the first wake
    // (a busy machine): then the nested task, set for "now" in that wake, falls due after the timer.
    expect([...runs].sort()).toEqual(['nested', 'timer at true']);
  });

  it('never holds a process open: its worker thread is unref\'d', async () => {
    // The child keeps itself alive (a ref'd 60 s timer) only until the clock has run its 1 ms task,
    // however long a busy machine takes to start the worker; after that only the 10-minute task is
    // left, which must not hold the process open.
    const script =
      "import('./core/precise-clock.ts').then(({ preciseClock }) => { const keep = setTimeout(() => undefined, 60_000); preciseClock.schedule(600_000, () => process.exit(3)); preciseClock.schedule(1, () => { console.log('ran'); clearTimeout(keep); }); })";
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '-e', script], { timeout: 60_000 });
    expect(stdout.trim()).toBe('ran');
  });
});
