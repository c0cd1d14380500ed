import { describe, expect, it } from 'vitest';
import { createRng } from '../../core/rng.js';
import { backend, policy, randomHistory, type TestBackend } from './helpers.js';

/**
 * While every backend is eligible (PickContext.eligibleCount, which the Balancer passes), random,
 * session-sticky and consistent-hash answer in O(log n) or O(1), and least-loaded skips the
 * eligibility scan: the same picks, and the same draws, as
 * their walks over the list, which a caller without the count gets (handed a copy of the list each
 * time, so nothing is kept for it either). Two instances from one seed
 * see one random history of health changes, weight changes, membership changes, retries that
 * avoid a backend, pins (stale ones included) and new sessions; they must never differ.
 */
describe.each([
  { label: 'random', spec: 'random', weights: [1, 2, 5] },
  { label: 'random', spec: 'random', weights: [1.5, 2] },
  { label: 'session-sticky', spec: 'session-sticky', weights: [1, 2] },
  { label: 'session-sticky (bound 1, 40 sessions kept)', spec: { name: 'session-sticky', options: { boundedLoad: 1, trackedSessions: 40 } }, weights: [1, 2] },
  { label: 'least-loaded', spec: 'least-loaded', weights: [1, 2] },
  { label: 'consistent-hash (ring)', spec: 'consistent-hash', weights: [1, 2] },
  { label: 'consistent-hash (maglev, bounded)', spec: { name: 'consistent-hash', options: { algorithm: 'maglev', tableSize: 251, boundedLoad: 1.25 } }, weights: [1, 3] },
])('$label with weights $weights: with and without the eligible count', ({ spec, weights }) => {
  it('picks the same through health, weight and membership changes, retries and pins', () => {
    const rng = createRng(11);
    const fast = policy(spec, 5);
    const walk = policy(spec, 5);
    const view: TestBackend[] = Array.from({ length: 12 }, (_, i) => backend(`b${i}`, { weight: weights[i % weights.length] }));
    const history = randomHistory(rng, view, weights, () => {
      fast.onMembershipChange?.(view);
      walk.onMembershipChange?.(view);
    });
    let fastPicks = 0;
    for (let step = 0; step < 3000; step++) {
      history.step();
      const avoid = rng.next() < 0.05 ? new Set([view[rng.int(view.length)].id]) : undefined;
      // Pins of backends in the list, and stale ones: of backends removed, or never there.
      const pinned = rng.next() < 0.7 ? (rng.next() < 0.1 ? history.removed[rng.int(history.removed.length)] : view[rng.int(view.length)].id) : undefined;
      const ctx = { now: step, avoid, pinned, sessionKey: `s${rng.int(200)}` };
      const eligibleCount = view.filter((x) => x.healthy).length;
      if (avoid === undefined && eligibleCount === view.length) fastPicks++;
      expect(fast.pick(view, { ...ctx, eligibleCount }), `step ${step}`).toBe(walk.pick([...view], ctx));
    }
    expect(fastPicks).toBeGreaterThan(1000);
  });
});
