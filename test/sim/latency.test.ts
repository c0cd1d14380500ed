import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createLatencyRecorder, createLatencyTimeline } from '../../core/latency.js';

describe('latency recorder', () => {
  it('gives exact mean and percentiles within 0.1% at microsecond precision', () => {
    const r = createLatencyRecorder();
    for (let i = 1; i <= 10_000; i++) r.record(i / 100); // 0.01 .. 100 ms
    const s = r.summary();
    expect(r.count).toBe(10_000);
    expect(s.mean).toBeCloseTo(50.005, 9);
    expect(s.p50).toBeGreaterThan(49.95);
    expect(s.p50).toBeLessThan(50.06);
    expect(s.p99).toBeGreaterThan(98.9);
    expect(s.p99).toBeLessThan(99.1);
    expect(s.max).toBeGreaterThan(99.9);
    expect(r.percentile(0)).toBeCloseTo(0.01, 3);
  });

  it('never reports a percentile above the exact maximum (HDR answers with bucket tops)', () => {
    const r = createLatencyRecorder();
    for (const ms of [5.099, 9.703, 16.735, 29.990591996457056]) r.record(ms);
    const s = r.summary();
    expect(s.max).toBe(29.990591996457056);
    expect(s.p999).toBeLessThanOrEqual(s.max);
    expect(r.percentile(100)).toBe(s.max);
  });

  it('keeps sub-millisecond values apart', () => {
    const r = createLatencyRecorder();
    r.record(0.25);
    r.record(0.75);
    expect(r.percentile(25)).toBeCloseTo(0.25, 3);
    expect(r.percentile(100)).toBeCloseTo(0.75, 3);
  });

  it('merges two recorders into the same result as one', () => {
    const a = createLatencyRecorder();
    const b = createLatencyRecorder();
    const all = createLatencyRecorder();
    for (let i = 0; i < 1000; i++) {
      const v = (i * 7919) % 1000;
      (i % 2 === 0 ? a : b).record(v);
      all.record(v);
    }
    a.merge(b);
    expect(a.count).toBe(all.count);
    expect(a.summary()).toEqual(all.summary());
  });

  it('gives a monotone CDF ending at 1, with tail points', () => {
    const r = createLatencyRecorder();
    for (let i = 1; i <= 1000; i++) r.record(i);
    const cdf = r.cdf(40);
    for (let i = 1; i < cdf.length; i++) {
      expect(cdf[i][0]).toBeGreaterThanOrEqual(cdf[i - 1][0]);
      expect(cdf[i][1]).toBeGreaterThan(cdf[i - 1][1]);
    }
    expect(cdf[cdf.length - 1][1]).toBe(1);
    expect(cdf.some(([, f]) => f > 0.99 && f < 1)).toBe(true);
  });

  it('refuses negative and NaN values, and reports zeros when empty', () => {
    const r = createLatencyRecorder();
    expect(() => r.record(-1)).toThrow(/cannot record/);
    expect(() => r.record(Number.NaN)).toThrow(/cannot record/);
    expect(r.summary()).toEqual({ mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
    expect(r.cdf()).toEqual([]);
  });
  it('starts over after a reset, whether its values were read (moved into the histogram) or not', () => {
    for (const readBefore of [false, true]) {
      const r = createLatencyRecorder();
      for (let i = 1; i <= 1000; i++) r.record(500 + i);
      r.record(3_000_000); // beyond the front array: straight into the histogram
      if (readBefore) expect(r.percentile(50)).toBeGreaterThan(500);
      r.reset();
      expect(r.summary()).toEqual({ mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
      r.reset(); // an empty recorder, reset again
      for (let i = 1; i <= 100; i++) r.record(i / 10);
      expect(r.count).toBe(100);
      expect(r.percentile(100)).toBeCloseTo(10, 1);
      expect(r.percentile(0)).toBeCloseTo(0.1, 3);
      expect(r.percentile(50)).toBeCloseTo(5, 1);
      expect(r.summary().max).toBe(10);
    }
  });
});

describe('latency timeline', () => {
  it('buckets by time with per-bucket percentiles and rate, empty buckets as zeros', () => {
    const t = createLatencyTimeline(1000, 5000);
    for (let i = 0; i < 100; i++) t.record(5000 + i, 10);
    for (let i = 0; i < 50; i++) t.record(7000 + i, 20);
    const points = t.points();
    expect(points).toHaveLength(3);
    // Times from the origin, whatever the clock read there.
    expect(points[0]).toMatchObject({ tMs: 0, rps: 100 });
    expect(Math.abs(points[0].p50 - 10) / 10).toBeLessThan(0.01);
    expect(points[1]).toEqual({ tMs: 1000, p50: 0, p99: 0, rps: 0 });
    expect(Math.abs(points[2].p99 - 20) / 20).toBeLessThan(0.01);
    expect(points[2].rps).toBe(50);
  });
  it('puts every time in the bucket floor((t - origin) / bucket) names, to the last ulp at the boundaries, in any order', () => {
    // The timeline keeps the last bucket's range of times instead of dividing per record: the
    // ranges must be the formula's own, also where o + k * b is not a double.
    const bits = new Float64Array(1);
    const asInt = new BigInt64Array(bits.buffer);
    const nextUp = (x: number): number => {
      if (x === 0) return Number.MIN_VALUE;
      bits[0] = x;
      asInt[0] += x > 0 ? 1n : -1n;
      return bits[0];
    };
    const ulpsAway = (x: number, ulps: number): number => {
      for (let i = 0; i < Math.abs(ulps); i++) x = ulps > 0 ? nextUp(x) : -nextUp(-x);
      return x;
    };
    fc.assert(
      fc.property(
        fc.integer({ min: -1e6, max: 1e6 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.constantFrom(0.1, 0.3, 1, 3, 7.7, 50, 1000),
        fc.array(fc.tuple(fc.integer({ min: -2, max: 40 }), fc.integer({ min: -3, max: 3 }), fc.double({ min: 0, max: 0.999, noNaN: true })), { minLength: 1, maxLength: 100 }),
        (wholeMs, fractionMs, bucketMs, picks) => {
          const originMs = wholeMs + fractionMs;
          const t = createLatencyTimeline(bucketMs, originMs);
          const expected = new Map<number, number>();
          for (const [k, ulps, within] of picks) {
            // A time inside bucket k, then times a few ulps from its lower and upper boundaries.
            const times = [originMs + (k + within) * bucketMs, ulpsAway(originMs + k * bucketMs, ulps), ulpsAway(originMs + (k + 1) * bucketMs, ulps)];
            for (const tMs of times) {
              t.record(tMs, 1);
              const index = Math.max(0, Math.floor((tMs - originMs) / bucketMs));
              expected.set(index, (expected.get(index) ?? 0) + 1);
            }
          }
          const counts = new Map<number, number>();
          t.points().forEach((p, i) => {
            if (p.rps > 0) counts.set(i, Math.round((p.rps * bucketMs) / 1000));
          });
          expect(counts).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('latency recorder front counts', () => {
  it('gives the percentiles of a plain HdrHistogram fed the same microseconds, capped at the max', async () => {
    const hdr = await import('hdr-histogram-js');
    // With a value beyond the front array's range and without one; read half-way too, so a second
    // flush moves only what came since the first.
    for (const beyondMs of [3_000_000, undefined]) {
      const plain = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, autoResize: true, useWebAssembly: false });
      const r = createLatencyRecorder();
      let x = 12345;
      let maxMs = 0;
      const check = (): void => {
        // The same answers, but for the cap at the exact maximum (HDR's answer is a bucket top).
        for (const p of [0, 1, 10, 50, 90, 99, 99.9, 99.99, 100]) expect(r.percentile(p)).toBe(Math.min(plain.getValueAtPercentile(p) / 1000, maxMs));
        expect(r.summary().max).toBe(maxMs);
      };
      for (let i = 0; i < 20_000; i++) {
        x = (x * 1103515245 + 12345) % 2147483648;
        // Spread over 1 µs .. ~2000 s, log-uniform.
        const ms = Math.exp((x / 2147483648) * 21) / 1000;
        r.record(ms);
        plain.recordValue(Math.max(1, Math.round(ms * 1000)));
        maxMs = Math.max(maxMs, ms);
        if (i === 9_999) check();
      }
      if (beyondMs !== undefined) {
        r.record(beyondMs);
        plain.recordValue(beyondMs * 1000);
        maxMs = beyondMs;
      }
      check();
    }
  });
});
