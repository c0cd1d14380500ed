import { describe, expect, it } from 'vitest';
import { isErrorCode, LiveStats, OVERALL, WINDOW_S } from '../../dispatcher/live-stats.js';
import { VirtualClock } from '../../core/virtual-clock.js';

describe("the dashboard's rolling stats", () => {
  it('closes one point per second, per backend and overall, with rates, errors and percentiles', () => {
    const clock = new VirtualClock();
    const stats = new LiveStats({ clock, policy: 'round-robin' });
    for (let i = 1; i <= 100; i++) stats.answered('a', '200', i);
    stats.answered('b', '502', 5);
    stats.answered('none', '503', 1);
    expect(stats.window().series).toEqual({});
    clock.advance(1000);
    const w = stats.window();
    expect(w.series.a).toHaveLength(1);
    expect(w.series.a[0]).toMatchObject({ tMs: 0, rps: 100, errorsPerS: 0 });
    expect(w.series.a[0].p50Ms).toBeCloseTo(50, 0);
    expect(w.series.a[0].p99Ms).toBeCloseTo(99, 0);
    expect(w.series.b[0]).toMatchObject({ rps: 1, errorsPerS: 1, p50Ms: 5 });
    // Refusals count overall, and in no backend's series.
    expect(w.series[OVERALL][0]).toMatchObject({ rps: 102, errorsPerS: 2 });
    expect(Object.keys(w.series).sort()).toEqual([OVERALL, 'a', 'b']);
  });

  it('fills quiet seconds with zeros and keeps only the last 60 s', () => {
    const clock = new VirtualClock();
    const stats = new LiveStats({ clock, policy: 'p' });
    stats.answered('a', '200', 1);
    clock.advance(3000);
    stats.answered('a', '200', 1);
    clock.advance(1000);
    expect(stats.window().series.a.map((p) => p.rps)).toEqual([1, 0, 0, 1]);
    clock.advance(100_000);
    const points = stats.window().series.a;
    expect(points).toHaveLength(WINDOW_S);
    expect(points.every((p) => p.rps === 0)).toBe(true);
    expect(points[points.length - 1].tMs).toBe(103_000);
  });

  it('counts shares per policy period and marks the change', () => {
    const clock = new VirtualClock();
    const stats = new LiveStats({ clock, policy: 'round-robin' });
    stats.answered('a', '200', 1);
    stats.answered('b', '200', 1);
    clock.advance(2500);
    stats.policyChanged('least-loaded');
    stats.answered('a', '200', 1);
    stats.answered('none', '503', 1);
    const w = stats.window();
    expect(w.periods).toEqual([
      { policy: 'round-robin', startMs: 0, endMs: 2500, requests: { a: 1, b: 1 } },
      { policy: 'least-loaded', startMs: 2500, requests: { a: 1 } },
    ]);
    expect(w.markers).toEqual([
      { tMs: 0, policy: 'round-robin' },
      { tMs: 2500, policy: 'least-loaded' },
    ]);
  });

  it('marks every policy change of the chart window, beyond the periods kept for the shares', () => {
    const clock = new VirtualClock();
    const stats = new LiveStats({ clock, policy: 'p0' });
    // Twelve switches, 4 s apart: all inside the 60 s window.
    for (let i = 1; i <= 12; i++) {
      clock.advance(4000);
      stats.policyChanged(`p${i}`);
    }
    const w = stats.window();
    expect(w.periods).toHaveLength(8);
    expect(w.markers.map((m) => m.policy)).toEqual(Array.from({ length: 13 }, (_, i) => `p${i}`));
    expect(w.markers.map((m) => m.tMs)).toEqual(Array.from({ length: 13 }, (_, i) => i * 4000));
    // Those older than the window go: at 101 s it starts at 41 s, after p10's 40 s.
    clock.advance(53_000);
    expect(stats.window().markers.map((m) => m.policy)).toEqual(['p11', 'p12']);
    stats.policyChanged('p13');
    expect(stats.window().markers.map((m) => [m.policy, m.tMs])).toEqual([['p11', 44_000], ['p12', 48_000], ['p13', 101_000]]);
  });

  it('calls 5xx, connection errors and timeouts errors; 4xx and client aborts are not', () => {
    expect(['500', '502', '503', '504', 'error', 'timeout'].every(isErrorCode)).toBe(true);
    expect(['200', '404', '499', '301'].some(isErrorCode)).toBe(false);
  });
});
