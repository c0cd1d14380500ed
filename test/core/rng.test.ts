import { describe, expect, it } from 'vitest';
import { createRng, drawDuration, IndexedDraws } from '../../core/rng.js';

const draws = (rng: { next(): number }, n: number): number[] => Array.from({ length: n }, () => rng.next());

describe('Rng', () => {
  it('the same seed replays the same draws; another seed does not', () => {
    expect(draws(createRng(42), 5)).toEqual(draws(createRng(42), 5));
    expect(draws(createRng(42), 5)).not.toEqual(draws(createRng(43), 5));
  });

  it('named streams are reproducible and independent of each other and of use of the parent', () => {
    const a = createRng(1);
    const b = createRng(1);
    draws(b, 100); // using the parent must not shift a stream
    const fromA = draws(a.stream('arrivals'), 5);
    expect(draws(b.stream('arrivals'), 5)).toEqual(fromA);
    expect(draws(a.stream('service'), 5)).not.toEqual(fromA);
    // Interleaving two streams does not change either's sequence.
    const x = a.stream('x');
    const y = a.stream('y');
    const interleaved = [x.next(), y.next(), x.next(), y.next()];
    expect([interleaved[0], interleaved[2]]).toEqual(draws(b.stream('x'), 2));
  });

  it('stays in [0, 1) and int(n) in [0, n)', () => {
    const rng = createRng(3);
    const seen = new Set<number>();
    let outside = 0;
    for (let i = 0; i < 10_000; i++) {
      const u = rng.next();
      if (!(u >= 0 && u < 1)) outside++;
      const k = rng.int(7);
      if (!(Number.isInteger(k) && k >= 0 && k < 7)) outside++;
      seen.add(k);
    }
    expect(outside).toBe(0);
    expect(seen.size).toBe(7);
  });

  it('exponential, normal and lognormal have the means they promise', () => {
    const rng = createRng(9);
    const n = 200_000;
    let exp = 0;
    let norm = 0;
    let normSq = 0;
    let logn = 0;
    for (let i = 0; i < n; i++) {
      exp += rng.exponential(10);
      const z = rng.normal();
      norm += z;
      normSq += z * z;
      logn += rng.lognormal(5, 0.5);
    }
    // Standard errors: 10/sqrt(n) = 0.022 for the exponential; 4 standard errors of slack.
    expect(Math.abs(exp / n - 10)).toBeLessThan(0.09);
    expect(Math.abs(norm / n)).toBeLessThan(0.01);
    expect(Math.abs(normSq / n - 1)).toBeLessThan(0.02);
    expect(Math.abs(logn / n - 5)).toBeLessThan(0.03);
  });

  it('drawDuration: deterministic is the mean itself', () => {
    expect(drawDuration(createRng(1), 'deterministic', 7)).toBe(7);
    expect(drawDuration(createRng(1), 'exponential', 7)).toBe(createRng(1).exponential(7));
  });
});

describe('IndexedDraws: draws that depend on (seed, name, index) alone', () => {
  it('gives index i the same draws in any order, and other seeds, names or indices other draws', () => {
    const a = new IndexedDraws(7, 'costs');
    const forward = [0, 1, 2, 3, 1_000_000, 2 ** 40].map((i) => [a.at(i).next(), a.next(), a.exponential(10)]);
    const b = new IndexedDraws(7, 'costs');
    const backward = [2 ** 40, 1_000_000, 3, 2, 1, 0].map((i) => [b.at(i).next(), b.next(), b.exponential(10)]).reverse();
    expect(backward).toEqual(forward);
    const firsts = new Set(forward.map((d) => d[0]));
    expect(firsts.size).toBe(forward.length);
    expect(new IndexedDraws(8, 'costs').at(0).next()).not.toBe(forward[0][0]);
    expect(new IndexedDraws(7, 'other').at(0).next()).not.toBe(forward[0][0]);
  });

  it('is uniform on [0, 1) and independent across consecutive indices (first draw of each)', () => {
    const draws = new IndexedDraws(1, 'costs');
    const n = 200_000;
    const bins = new Array<number>(20).fill(0);
    let sum = 0;
    let lagProduct = 0;
    let previous = draws.at(0).next();
    for (let i = 0; i < n; i++) {
      const u = draws.at(i).next();
      expect(u >= 0 && u < 1).toBe(true);
      bins[Math.floor(u * 20)]++;
      sum += u;
      if (i > 0) lagProduct += (u - 0.5) * (previous - 0.5);
      previous = u;
    }
    expect(sum / n).toBeCloseTo(0.5, 2);
    // Chi-square with 19 degrees of freedom: above 43.8 has probability 0.001 for a uniform source.
    const expected = n / 20;
    const chi2 = bins.reduce((acc, count) => acc + (count - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(43.8);
    // Lag-1 correlation of a uniform sequence: sd ~ 1 / sqrt(n) = 0.0022.
    expect(Math.abs(lagProduct / (n - 1) / (1 / 12))).toBeLessThan(0.01);
  });
});
