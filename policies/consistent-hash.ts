import { z } from 'zod';
import type { BackendId } from '../core/types.js';
import { HashPlacer, hashKeyOf, hashingOptions, type HashKeySource } from './hashing/placer.js';
import { DEFAULT_SESSION_COOKIE, eligibleFor, type BackendView, type PickContext, type Policy, type PolicyDefinition, type SessionKeying } from './policy.js';
import { WeightedRandom } from './random.js';

/**
 * Consistent hashing over a request key: the session id, the client address (nginx `ip_hash`,
 * HAProxy `balance source`) or the request key, the path (HAProxy `balance uri`), placed on a ring
 * (Karger et al. 1997) or a Maglev table (Eisenbud et al. 2016), optionally with bounded loads
 * (Mirrokni et al. 2018). See hashing/ for each piece.
 *
 * A request without the chosen key is hashed on the first key it has (session, client, request);
 * one with no key at all goes to a weighted-random backend, as in Envoy ("no hash key: random").
 * Tie-break: none needed, a key has exactly one home; the walk past full or avoided backends is
 * deterministic. Cost: the lookup, O(1) or O(log P), while every backend is eligible and loads are
 * unbounded; O(n) otherwise; see hashing/placer.ts.
 *
 * Hashing sessions needs a session identity on the wire: with `key: session` the policy asks the
 * dispatcher for the signed session cookie (as session-sticky does, but nothing is pinned), so a
 * live client keeps one key across requests just as a simulated session does.
 */
export class ConsistentHash implements Policy {
  readonly name = 'consistent-hash';
  readonly session?: SessionKeying;

  constructor(
    private readonly key: HashKeySource,
    private readonly placer: HashPlacer,
    private readonly keyless: WeightedRandom,
  ) {
    if (key === 'session') this.session = { cookieName: DEFAULT_SESSION_COOKIE, key: 'cookie' };
  }

  pick(backends: readonly BackendView[], ctx: PickContext): BackendId | undefined {
    const key = hashKeyOf(ctx, this.key);
    if (key === undefined) return this.keyless.pick(backends, ctx);
    return this.placer.place(backends, eligibleFor(backends, ctx), key);
  }

  onMembershipChange(backends: readonly BackendView[]): void {
    this.placer.learn(backends);
  }

  trackedIds(): BackendId[] {
    return this.placer.memberIds();
  }
}

const options = z.strictObject({
  key: z
    .enum(['session', 'client', 'request'])
    .default('session')
    .describe('what to hash: session id, client address or request path (if absent: the first of these present)'),
  ...hashingOptions({ default: 0, cap: 'ceil(c x average in-flight)' }),
});

export const consistentHash: PolicyDefinition<typeof options> = {
  name: 'consistent-hash',
  summary: 'ring or Maglev consistent hashing of a session, client or request key, optionally with bounded load',
  options,
  create: (o, deps) => new ConsistentHash(o.key, new HashPlacer(o), new WeightedRandom(deps.rng.stream('consistent-hash'))),
};
