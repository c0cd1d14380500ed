import { describe, expect, it } from 'vitest';
import { OpenCount, OpenPacer } from '../../loadtest/slow-upload-pacing.js';

describe('OpenPacer', () => {
  it('spreads a crowd of opens asked for together over time, intervalMs apart', () => {
    const pacer = new OpenPacer(1000 / 1100);
    const at = Array.from({ length: 1100 }, () => pacer.next(5000));
    expect(at[0]).toBe(5000);
    for (let i = 1; i < at.length; i++) expect(at[i] - at[i - 1]).toBeCloseTo(1000 / 1100, 9);
    expect(at[1099]).toBeCloseTo(5000 + (1099 * 1000) / 1100, 6);
  });

  it('lets an open go at once when the last one is at least intervalMs past', () => {
    const pacer = new OpenPacer(10);
    expect(pacer.next(0)).toBe(0);
    expect(pacer.next(25)).toBe(25);
    expect(pacer.next(30)).toBe(35);
    expect(pacer.next(30)).toBe(45);
    expect(pacer.next(100)).toBe(100);
  });

  it('re-opens ended together are spread from where the last open was', () => {
    const pacer = new OpenPacer(2);
    for (let i = 0; i < 3; i++) pacer.next(0);
    // Three ended together at 3 ms: the first waits for the interval after the open at 4 ms.
    expect([pacer.next(3), pacer.next(3), pacer.next(3)]).toEqual([6, 8, 10]);
  });

  it('opens every one at once with an interval of 0 (the burst)', () => {
    const pacer = new OpenPacer(0);
    expect(Array.from({ length: 5 }, () => pacer.next(7))).toEqual([7, 7, 7, 7, 7]);
  });

  it('refuses a negative or non-finite interval', () => {
    expect(() => new OpenPacer(-1)).toThrow(/>= 0/);
    expect(() => new OpenPacer(Number.NaN)).toThrow(/>= 0/);
    expect(() => new OpenPacer(Number.POSITIVE_INFINITY)).toThrow(/finite/);
  });
});

describe('OpenCount', () => {
  it('averages the count over time, weighted by how long each count held', () => {
    const open = new OpenCount();
    open.change(1000, 0);
    open.change(1000, 1);
    open.change(1000, 1);
    open.change(1500, 1);
    open.change(2000, -1);
    expect(open.current).toBe(2);
    // 2 open for 500 ms, 3 for 500 ms, 2 for 1000 ms: 4500 upload-ms over 2000 ms.
    expect(open.average(3000)).toBe(2.25);
  });

  it('is 0 over an empty span', () => {
    const open = new OpenCount();
    expect(open.average(10)).toBe(0);
    open.change(10, 1);
    expect(open.average(10)).toBe(0);
    expect(open.average(20)).toBe(1);
  });
});
