import { describe, expect, it } from 'vitest';
import { createRng } from '../../core/rng.js';
import { backend, backends, policy, randomHistory, type TestBackend } from './helpers.js';

const picks = (n: number, view: ReturnType<typeof backends>, p = policy('round-robin')) =>
  Array.from({ length: n }, (_, i) => p.pick(view, { now: i }));

describe('round-robin', () => {
  it('cycles through equal-weight backends in order', () => {
    expect(picks(6, backends('a', 'b', 'c'))).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it("spreads weights 5,1,1 as nginx's smooth weighted round robin: a a b a c a a", () => {
    const view = [backend('a', { weight: 5 }), backend('b'), backend('c')];
    const once = ['a', 'a', 'b', 'a', 'c', 'a', 'a'];
    expect(picks(14, view)).toEqual([...once, ...once]);
  });

  it('skips unhealthy and avoided backends without disturbing the others', () => {
    const view = [backend('a'), backend('b', { state: 'draining' }), backend('c')];
    expect(picks(4, view)).toEqual(['a', 'c', 'a', 'c']);
    const p = policy('round-robin');
    const all = backends('a', 'b', 'c');
    expect(p.pick(all, { now: 0 })).toBe('a');
    expect(p.pick(all, { now: 1, avoid: new Set(['b']) })).toBe('c');
    expect(p.pick(all, { now: 2 })).toBe('b');
  });

  it('picks the same with and without an eligible count (its O(k + log n) path) through health changes, retries, weights and membership', () => {
    const rng = createRng(7);
    let fastPicks = 0;
    // One weight for all; two and three whole weights mixed (the weight classes); a fraction (no fast path).
    const mixes = [[1], [3], [1, 2], [2, 5, 1], [2.5]];
    for (const weights of mixes) {
      const fast = policy('round-robin');
      const walk = policy('round-robin');
      const view: TestBackend[] = Array.from({ length: 9 }, (_, i) => backend(`b${i}`, { weight: weights[i % weights.length] }));
      const history = randomHistory(rng, view, weights, () => {
        fast.onMembershipChange?.(view);
        walk.onMembershipChange?.(view);
      });
      for (let step = 0; step < 4000; step++) {
        history.step();
        const avoid = rng.next() < 0.05 ? new Set([view[rng.int(view.length)].id]) : undefined;
        const eligibleCount = view.filter((x) => x.healthy).length;
        if (avoid === undefined && eligibleCount === view.length && view.every((x) => Number.isInteger(x.weight))) fastPicks++;
        expect(fast.pick(view, { now: step, avoid, eligibleCount }), `step ${step}, weights ${weights.join(',')}`).toBe(walk.pick(view, { now: step, avoid }));
      }
    }
    expect(fastPicks).toBeGreaterThan(6000);
  });

  it('picks as the walk does when handed a new list of the same backends with other weights, unannounced', () => {
    const fast = policy('round-robin');
    const walk = policy('round-robin');
    const first = [backend('a', { weight: 1 }), backend('b', { weight: 2 }), backend('c', { weight: 3 })];
    const second = [backend('a', { weight: 3 }), backend('b', { weight: 2 }), backend('c', { weight: 1 })];
    for (let i = 0; i < 19; i++) {
      const view = i < 7 ? first : second;
      expect(fast.pick(view, { now: i, eligibleCount: view.length }), `pick ${i}`).toBe(walk.pick(view, { now: i }));
    }
  });

  it('keeps the rotation of surviving backends across a membership change', () => {
    const p = policy('round-robin');
    const view = backends('a', 'b', 'c');
    expect(picks(2, view, p)).toEqual(['a', 'b']);
    const grown = [...view, backend('d')];
    p.onMembershipChange?.(grown);
    // c was next and stays next; the newcomer joins the rotation.
    expect(picks(4, grown, p)).toEqual(['c', 'd', 'a', 'b']);
  });
});
