import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_RING_POINTS } from '../../core/limits.js';
import type { BackendId } from '../../core/types.js';
import { keyHash } from '../../policies/hashing/hash.js';
import { HashRing, ringPointCounts } from '../../policies/hashing/ring.js';
import { backend, policy } from './helpers.js';

// A ring's points per backend count vnodes per unit of weight, the unit being 1 or, when the
// smallest weight is below 1, that weight. Counted per unit of 1, fractional weights degenerated:
// four backends of weight 0.01 got one point each and split 400 keys 365/27/8/0.

const KEYS = Array.from({ length: 4000 }, (_, i) => `client-${i}`);
const IDS = ['a', 'b', 'c', 'd'];

/** The count rule as it was for every weight (and still is when all weights are >= 1). */
function unitOneCounts(weights: readonly number[], vnodes: number): number[] {
  const wanted = weights.reduce((sum, w) => sum + vnodes * w, 0);
  const scale = wanted > MAX_RING_POINTS ? MAX_RING_POINTS / wanted : 1;
  return weights.map((w) => Math.max(1, Math.round(vnodes * w * scale)));
}

/** A key's home on a ring of these counts, built independently of HashRing (ids in order). */
function referenceRing(ids: readonly string[], counts: readonly number[]): (hash: number) => string {
  const points = ids.flatMap((id, owner) => Array.from({ length: counts[owner] }, (_, i) => ({ hash: keyHash(`${id}#${i}`), owner })));
  points.sort((a, b) => a.hash - b.hash || a.owner - b.owner);
  return (hash) => ids[(points.find((p) => p.hash >= hash) ?? points[0]).owner];
}

const home = (ring: HashRing, key: string): BackendId => ring.preferences(keyHash(key))[Symbol.iterator]().next().value as BackendId;

function tally(pick: (key: string) => BackendId | undefined): Map<BackendId, number> {
  const counts = new Map<BackendId, number>();
  for (const k of KEYS) {
    const id = pick(k) ?? 'none';
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

describe('ring points per unit of weight', () => {
  it.each([0.01, 0.5, 0.3, 1e-6, 1e-300, 5e-324])('equal weights %s: equal points, and the same ring as weights 1', (w) => {
    expect(ringPointCounts([w, w, w, w], 100)).toEqual([100, 100, 100, 100]);
    const ring = new HashRing(IDS.map((id) => ({ id, weight: w })), 100);
    const ones = new HashRing(IDS.map((id) => ({ id, weight: 1 })), 100);
    expect(ring.entries).toBe(400);
    const counts = tally((k) => home(ring, k));
    for (const id of IDS) expect(counts.get(id) ?? 0).toBeGreaterThan(700); // 1000 each expected
    for (const k of KEYS) expect(home(ring, k)).toBe(home(ones, k));
  });

  it('equal fractional weights of any value and count give equal points (property)', () => {
    fc.assert(
      fc.property(fc.double({ min: 5e-324, max: 1, noNaN: true }), fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 1000 }), (w, n, vnodes) => {
        const counts = ringPointCounts(Array(n).fill(w), vnodes);
        expect(new Set(counts).size).toBe(1);
        expect(counts[0]).toBe(n * vnodes > MAX_RING_POINTS ? Math.max(1, Math.round(MAX_RING_POINTS / n)) : vnodes);
      }),
      { numRuns: 300 },
    );
  });

  it('unequal fractional weights keep their ratios, in points and in keys', () => {
    expect(ringPointCounts([0.01, 0.02], 100)).toEqual([100, 200]);
    expect(ringPointCounts([0.25, 0.5, 1, 2], 10)).toEqual([10, 20, 40, 80]);
    expect(ringPointCounts([0, 0.5, 2], 100)).toEqual([1, 100, 400]); // weight 0 keeps its one point
    const ring = new HashRing([{ id: 'a', weight: 0.01 }, { id: 'b', weight: 0.02 }], 200);
    const toB = tally((k) => home(ring, k)).get('b') ?? 0;
    expect(Math.abs(toB / KEYS.length - 2 / 3)).toBeLessThan(0.05);
  });

  it('stays within the cap, finite, one point at least, whatever the spread of weights', () => {
    for (const weights of [[1e-320, 256], [5e-324, 1e-10, 0.5, 256], [1e-6, 256, 256, 0]]) {
      const counts = ringPointCounts(weights, 1000);
      for (const c of counts) expect(Number.isInteger(c) && c >= 1).toBe(true);
      expect(counts.reduce((s, c) => s + c, 0)).toBeLessThanOrEqual(MAX_RING_POINTS + weights.length);
    }
    expect(ringPointCounts([1e-320, 256], 1000)).toEqual([1, MAX_RING_POINTS]);
  });

  it('weights all >= 1 (whole or not, capped or not): exactly the points and the placement of counting per unit of 1 (property)', () => {
    const weight = fc.oneof(fc.integer({ min: 1, max: 256 }), fc.double({ min: 1, max: 256, noNaN: true }));
    fc.assert(
      fc.property(fc.array(weight, { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 1000 }), (weights, vnodes) => {
        const expected = unitOneCounts(weights, vnodes);
        expect(ringPointCounts(weights, vnodes)).toEqual(expected);
        const ids = weights.map((_, i) => `b${String(i).padStart(2, '0')}`);
        const ring = new HashRing(ids.map((id, i) => ({ id, weight: weights[i] })), vnodes);
        const reference = referenceRing(ids, expected);
        for (const k of KEYS.slice(0, 200)) expect(home(ring, k)).toBe(reference(keyHash(k)));
      }),
      { numRuns: 60 },
    );
  });

  it.each(['consistent-hash', 'session-sticky'])('%s (ring): four backends of weight 0.01 share 4,000 keys evenly', (name) => {
    const p = policy({ name, options: { algorithm: 'ring', key: 'client', boundedLoad: 0 } });
    const view = IDS.map((id) => backend(id, { weight: 0.01 }));
    const counts = tally((k) => p.pick(view, { now: 0, clientKey: k }));
    for (const id of IDS) {
      expect(counts.get(id) ?? 0).toBeGreaterThan(700);
      expect(counts.get(id) ?? 0).toBeLessThan(1300);
    }
  });
});
