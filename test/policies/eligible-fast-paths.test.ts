import { describe, expect, it } from 'vitest';
import { createRng } from '../../core/rng.js';
import { backend, policy, type TestBackend } from './helpers.js';

/**
 * random and session-sticky answer in O(log n) and O(1) while every backend is eligible
 * (PickContext.eligibleCount, which the Balancer passes): the same picks, and the same draws, as
 * their walks over the list, which a caller without the count gets. Two instances from one seed
 * see one random history of health changes, weight changes, membership changes, retries that
 * avoid a backend, pins (stale ones included) and new sessions; they must never differ.
 */
describe.each([
  { name: 'random', weights: [1, 2, 5] },
  { name: 'random', weights: [1.5, 2] },
  { name: 'session-sticky', weights: [1, 2] },
])('$name with weights $weights: with and without the eligible count', ({ name, weights }) => {
  it('picks the same through health, weight and membership changes, retries and pins', () => {
    const rng = createRng(11);
    const fast = policy(name, 5);
    const walk = policy(name, 5);
    const view: TestBackend[] = Array.from({ length: 12 }, (_, i) => backend(`b${i}`, { weight: weights[i % weights.length] }));
    let added = 0;
    const removed: string[] = ['gone'];
    let fastPicks = 0;
    const announce = (): void => {
      fast.onMembershipChange?.(view);
      walk.onMembershipChange?.(view);
    };
    for (let step = 0; step < 3000; step++) {
      const u = rng.next();
      const b = view[rng.int(view.length)];
      if (u < 0.01) {
        for (const x of view) Object.assign(x, { state: 'healthy', healthy: true });
        announce();
      } else if (u < 0.02) {
        b.state = b.state === 'healthy' ? 'draining' : 'healthy';
        b.healthy = b.state === 'healthy';
        announce();
      } else if (u < 0.025) {
        b.weight = weights[rng.int(weights.length)];
        announce();
      } else if (u < 0.03) {
        // In place, as the Balancer keeps one list: only the announcement says it changed.
        view.push(backend(`new${added++}`, { weight: weights[0] }));
        announce();
      } else if (u < 0.035 && view.length > 2) {
        view.splice(view.indexOf(b), 1);
        removed.push(b.id);
        announce();
      }
      const avoid = rng.next() < 0.05 ? new Set([view[rng.int(view.length)].id]) : undefined;
      // Pins of backends in the list, and stale ones: of backends removed, or never there.
      const pinned = rng.next() < 0.7 ? (rng.next() < 0.1 ? removed[rng.int(removed.length)] : view[rng.int(view.length)].id) : undefined;
      const ctx = { now: step, avoid, pinned, sessionKey: `s${rng.int(200)}` };
      const eligibleCount = view.filter((x) => x.healthy).length;
      if (avoid === undefined && eligibleCount === view.length) fastPicks++;
      expect(fast.pick(view, { ...ctx, eligibleCount }), `step ${step}`).toBe(walk.pick(view, ctx));
    }
    expect(fastPicks).toBeGreaterThan(1000);
  });
});
