import { eligible, z, type PolicyDefinition } from 'dispatchlab/policy';

/**
 * Slow-aware least-loaded: the fewest requests in flight among the replicas that answered nothing
 * slower than `slowMs` (and did not fail) in the last `windowMs`; every eligible replica when all
 * were slow. Ties: the first in the dispatcher's order. Cost: O(n) per pick, O(n) state.
 */
const options = z.strictObject({
  slowMs: z.number().positive().default(20),
  windowMs: z.number().positive().default(1000),
});

const slowAware: PolicyDefinition<typeof options> = {
  name: 'slow-aware',
  summary: 'least in-flight among the replicas that were not slow in the last window',
  options,
  create({ slowMs, windowMs }) {
    const slowUntil = new Map<string, number>(); // replica -> when its last slow answer stops counting
    let present = new Set<string>();
    return {
      name: 'slow-aware',
      pick(backends, ctx) {
        const candidates = eligible(backends, ctx.avoid);
        const fast = candidates.filter((b) => (slowUntil.get(b.id) ?? 0) <= ctx.now);
        let best: (typeof candidates)[number] | undefined;
        for (const b of fast.length > 0 ? fast : candidates) if (best === undefined || b.inFlight < best.inFlight) best = b;
        return best?.id;
      },
      onComplete(id, outcome, now) {
        // A late answer from a replica already removed must not bring its state back.
        if (present.has(id) && (!outcome.ok || outcome.latencyMs > slowMs)) slowUntil.set(id, now + windowMs);
      },
      onMembershipChange(backends) {
        present = new Set(backends.map((b) => b.id));
        for (const id of slowUntil.keys()) if (!present.has(id)) slowUntil.delete(id);
      },
      trackedIds: () => [...slowUntil.keys()],
    };
  },
};

export default slowAware;
