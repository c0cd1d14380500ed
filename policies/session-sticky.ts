import { z } from 'zod';
import type { BackendId } from '../core/types.js';
import { HashPlacer, hashKeyOf, hashingOptions } from './hashing/placer.js';
import { LeastLoaded } from './least-loaded.js';
import { createInFlightMetric } from './load/in-flight.js';
import { DEFAULT_SESSION_COOKIE, eligible, type BackendView, type PickContext, type Policy, type PolicyDefinition, type SessionKeying } from './policy.js';

/**
 * Session-sticky: a session stays on the replica it was pinned to (HAProxy `cookie SRV insert`,
 * NGINX Plus `sticky cookie`, Traefik `sticky.cookie`). The pin travels with the client: the
 * dispatcher writes it into a signed cookie (dispatcher/session-cookie.ts, so a client cannot forge
 * a pin to a backend of its choosing; a bad cookie just gets a new pin) and passes the verified pin
 * as `ctx.pinned`. Keying by a header or the client address instead pins by hashing alone.
 *
 * - Hit: the pinned backend is eligible (healthy and not avoided), so it is chosen.
 * - Otherwise the session is (re)placed by consistent hashing with bounded load (factor 1.25 by
 *   default) on the session key, falling back to the client key, then the request key: a new
 *   session lands where its key hashes unless that replica is overrun, and a down or draining
 *   replica's sessions spread over the others instead of piling onto one. The dispatcher rewrites
 *   the cookie whenever the pick differs from the pin; the Balancer counts hits and misses (the
 *   sticky hit ratio in reports and `dispatchlab_sticky_*_total`).
 * - No key at all: the least in-flight backend (random tie-break).
 * Tie-break: as consistent-hash (none needed). Cost: O(n) per pick plus the hash lookup.
 */
export class SessionSticky implements Policy {
  readonly name = 'session-sticky';
  readonly sticky = true;

  constructor(
    readonly session: SessionKeying,
    private readonly placer: HashPlacer,
    private readonly keyless: LeastLoaded,
  ) {}

  pick(backends: readonly BackendView[], ctx: PickContext): BackendId | undefined {
    const candidates = eligible(backends, ctx.avoid);
    if (ctx.pinned !== undefined && candidates.some((b) => b.id === ctx.pinned)) return ctx.pinned;
    const key = hashKeyOf(ctx, 'session');
    if (key === undefined) return this.keyless.pick(backends, ctx);
    return this.placer.place(backends, candidates, key);
  }

  onMembershipChange(): void {
    this.placer.forget();
  }

  trackedIds(): BackendId[] {
    return this.placer.memberIds();
  }
}

const options = z.strictObject({
  cookie: z
    .string()
    .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'must be a cookie name (an RFC 6265 token)')
    .default(DEFAULT_SESSION_COOKIE)
    .describe('name of the session cookie the dispatcher inserts'),
  key: z.enum(['cookie', 'header', 'client']).default('cookie').describe('what identifies a session: the inserted cookie, a request header, or the client address'),
  header: z.string().min(1).default('x-session-id').describe('with key header: the header that carries the session id'),
  ...hashingOptions(1.25),
});

export const sessionSticky: PolicyDefinition<typeof options> = {
  name: 'session-sticky',
  summary: 'pin each session to a replica (signed cookie, header or client address); new sessions by bounded-load consistent hashing',
  options,
  create: (o, deps) =>
    new SessionSticky(
      { cookieName: o.cookie, key: o.key, ...(o.key === 'header' ? { headerName: o.header } : {}) },
      new HashPlacer(o),
      new LeastLoaded(createInFlightMetric(), deps.rng.stream('session-sticky')),
    ),
};
