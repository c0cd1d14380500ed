import { describe, expect, it } from 'vitest';
import { WaitQueue } from '../../dispatcher/balancer/queue.js';
import { RetryBudget } from '../../dispatcher/balancer/retry-budget.js';

const entry = (n: number) => ({ n, waiting: false });

describe('WaitQueue', () => {
  it('is FIFO across growth and wrap-around, with pushFront going first', () => {
    const q = new WaitQueue<ReturnType<typeof entry>>();
    const out: number[] = [];
    for (let i = 0; i < 10; i++) q.pushBack(entry(i));
    for (let i = 0; i < 5; i++) out.push(q.shift()!.n);
    for (let i = 10; i < 40; i++) q.pushBack(entry(i)); // wraps, then grows past 16
    q.pushFront(entry(-1));
    expect(q.length).toBe(36);
    while (q.length > 0) out.push(q.shift()!.n);
    expect(out).toEqual([0, 1, 2, 3, 4, -1, ...Array.from({ length: 35 }, (_, i) => i + 5)]);
    expect(q.shift()).toBeUndefined();
  });

  it('remove takes an entry out from anywhere, once, and peek skips it', () => {
    const q = new WaitQueue<ReturnType<typeof entry>>();
    const [a, b, c] = [entry(1), entry(2), entry(3)];
    q.pushBack(a);
    q.pushBack(b);
    q.pushBack(c);
    expect(q.remove(b)).toBe(true);
    expect(q.remove(b)).toBe(false);
    expect(q.remove(a)).toBe(true);
    expect(q.length).toBe(1);
    expect(q.peek()).toBe(c);
    expect(q.shift()).toBe(c);
    expect(q.remove(c)).toBe(false);
    expect(q.length).toBe(0);
  });
});

describe('RetryBudget', () => {
  it('allows ratio * requests within the window, then refuses', () => {
    const budget = new RetryBudget({ ratio: 0.2, minPerSecond: 0 });
    for (let i = 0; i < 10; i++) budget.deposit(0);
    expect(budget.tryWithdraw(0)).toBe(true);
    expect(budget.tryWithdraw(100)).toBe(true);
    expect(budget.tryWithdraw(200)).toBe(false);
  });

  it('gives minPerSecond * window seconds even with no requests', () => {
    const budget = new RetryBudget({ ratio: 0, minPerSecond: 1, windowMs: 3000, buckets: 3 });
    expect([1, 2, 3, 4].map(() => budget.tryWithdraw(0))).toEqual([true, true, true, false]);
  });

  it('forgets requests and retries that slid out of the window', () => {
    const budget = new RetryBudget({ ratio: 0.5, minPerSecond: 0, windowMs: 10_000, buckets: 10 });
    budget.deposit(0);
    budget.deposit(0);
    expect(budget.tryWithdraw(0)).toBe(true);
    expect(budget.tryWithdraw(5000)).toBe(false);
    // At 10 s the bucket of t=0 leaves the window: no requests, no retries.
    expect(budget.tryWithdraw(10_000)).toBe(false);
    budget.deposit(10_000);
    budget.deposit(10_500);
    expect(budget.tryWithdraw(10_900)).toBe(true);
    // A long gap clears everything at once.
    budget.deposit(1e6);
    budget.deposit(1e6);
    expect(budget.tryWithdraw(1e6)).toBe(true);
    expect(budget.tryWithdraw(1e6)).toBe(false);
  });

  it('rejects bad settings', () => {
    expect(() => new RetryBudget({ ratio: 2, minPerSecond: 0 })).toThrow(/ratio/);
    expect(() => new RetryBudget({ ratio: 0.1, minPerSecond: 0, buckets: 0 })).toThrow(/buckets/);
  });
});
