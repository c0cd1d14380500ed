import { z } from 'zod';
import { MAX_SESSIONS } from '../core/limits.js';
import type { BackendId } from '../core/types.js';
import { HashPlacer, hashKeyOf, hashingOptions } from './hashing/placer.js';
import { LeastLoaded } from './least-loaded.js';
import { createInFlightMetric } from './load/in-flight.js';
import { ListMemo, viewsById } from './list-memo.js';
import { DEFAULT_SESSION_COOKIE, eligibleFor, type BackendView, type PickContext, type Policy, type PolicyDefinition, type SessionKeying } from './policy.js';

/**
 * Session-sticky: a session stays on the replica it was pinned to (HAProxy `cookie SRV insert`,
 * NGINX Plus `sticky cookie`, Traefik `sticky.cookie`). The pin travels with the client: the
 * dispatcher writes it into a signed cookie (dispatcher/session-cookie.ts, so a client cannot forge
 * a pin to a backend of its choosing; a bad cookie just gets a new pin) and passes the verified pin
 * as `ctx.pinned`. Keyed by a header or the client address, a session has no cookie, and the
 * policy's own placements (below) keep it where it was placed.
 *
 * - Hit: the pinned backend is eligible (healthy and not avoided), so it is chosen.
 * - Otherwise, a session this policy placed before goes back to that backend while it is eligible
 *   (a request sent before its session's cookie came back, or keyed without a cookie): HAProxy's
 *   stick table. At most `trackedSessions` sessions are kept; the one placed first is forgotten first.
 * - Otherwise the session is (re)placed by consistent hashing with bounded load (factor 1.25 by
 *   default) on the session key, falling back to the client key, then the request key. The bound
 *   counts *sessions* placed on each backend, as the paper bounds balls per bin, not requests in
 *   flight: a placement is for the rest of the session, and with a few requests in flight a count
 *   that differs by one (an answer a fraction of a millisecond earlier) would decide it, so the
 *   same workload would place sessions differently from run to run, live against simulated, or
 *   seed to seed. By session counts, where sessions go depends only on the order in which they
 *   start. A down or draining replica's sessions spread over the others instead of piling onto one.
 *   The dispatcher rewrites the cookie whenever the pick differs from the pin; the Balancer counts
 *   hits and misses (the sticky hit ratio in reports and `dispatchlab_sticky_*_total`).
 * - No key at all: the least in-flight backend (random tie-break).
 * Tie-break: as consistent-hash (none needed). Cost: while every backend is eligible
 * (PickContext.eligibleCount), a hit is O(1) (the pin is looked up among the list's ids, kept until
 * its membership changes) and so is a placement, plus the hash lookup (the sessions on the list's
 * backends are summed once per membership and then counted as they are placed and forgotten);
 * otherwise O(n) for the eligibility filter and the sum. Memory O(trackedSessions).
 */
export class SessionSticky implements Policy {
  readonly name = 'session-sticky';
  readonly sticky = true;
  private readonly sessionsOn = (b: BackendView): number => this.placements.countOn(b.id);
  /** The list's views by id, for a hit while every backend is eligible. */
  private readonly viewsById = viewsById();
  /** The sessions placed on the list's backends, summed in list order once and then kept up to date. */
  private readonly listSessions = new ListMemo((backends) => ({ sessions: backends.reduce((sum, b) => sum + this.sessionsOn(b), 0) }));

  constructor(
    readonly session: SessionKeying,
    private readonly placer: HashPlacer,
    private readonly placements: Placements,
    private readonly keyless: LeastLoaded,
  ) {}

  pick(backends: readonly BackendView[], ctx: PickContext): BackendId | undefined {
    const candidates = eligibleFor(backends, ctx);
    if (ctx.pinned !== undefined && this.isCandidate(ctx.pinned, backends, candidates)) return ctx.pinned;
    const key = hashKeyOf(ctx, 'session');
    if (key === undefined) return this.keyless.pick(backends, ctx);
    const home = this.placements.homeOf(key);
    if (home !== undefined && this.isCandidate(home, backends, candidates)) return home;
    // The bound needs the sessions on the candidates: kept for the list, which they are while
    // every backend is eligible, and counted on every placement, whichever the candidates.
    const onList = this.listSessions.get(backends);
    const placed = this.placer.place(backends, candidates, key, this.sessionsOn, candidates === backends ? onList.sessions : undefined);
    if (placed === undefined) return undefined;
    const lost = this.placements.place(key, placed);
    onList.sessions += 1 - (lost !== undefined && this.viewsById.get(backends).has(lost) ? 1 : 0);
    return placed;
  }

  /** Is `id` one of the candidates? A lookup when they are the whole list (every backend eligible), else a scan. */
  private isCandidate(id: BackendId, backends: readonly BackendView[], candidates: readonly BackendView[]): boolean {
    return candidates === backends ? this.viewsById.get(backends).has(id) : candidates.some((b) => b.id === id);
  }

  onMembershipChange(backends: readonly BackendView[]): void {
    this.placer.learn(backends);
    this.viewsById.forget();
    this.listSessions.forget();
  }

  trackedIds(): BackendId[] {
    return this.placer.memberIds();
  }
}

/**
 * The sessions placed, at most `capacity` of them, and how many each backend holds. When full, the
 * session first placed longest ago is forgotten: a ring of keys in placement order. (Evicting
 * through the Map's own insertion order would cost O(capacity): V8 leaves a deleted entry as a
 * hole that iteration skips until the table is rehashed, and evictions delete from the front.)
 */
export class Placements {
  private readonly home = new Map<string, BackendId>();
  private readonly counts = new Map<BackendId, number>();
  private readonly order: string[] = [];
  private oldest = 0;

  constructor(private readonly capacity: number) {}

  homeOf(key: string): BackendId | undefined {
    return this.home.get(key);
  }

  countOn(id: BackendId): number {
    return this.counts.get(id) ?? 0;
  }

  get size(): number {
    return this.home.size;
  }

  /** Place `key` on `id`; returns the backend that lost a session by it (the key's previous home, or the forgotten session's), if any. */
  place(key: string, id: BackendId): BackendId | undefined {
    let lost = this.home.get(key);
    if (lost !== undefined) {
      this.add(lost, -1);
    } else if (this.order.length < this.capacity) {
      this.order.push(key);
    } else {
      const forgotten = this.order[this.oldest];
      lost = this.home.get(forgotten) as BackendId;
      this.add(lost, -1);
      this.home.delete(forgotten);
      this.order[this.oldest] = key;
      this.oldest = (this.oldest + 1) % this.capacity;
    }
    this.home.set(key, id);
    this.add(id, 1);
    return lost;
  }

  private add(id: BackendId, n: number): void {
    this.counts.set(id, this.countOn(id) + n);
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
  trackedSessions: z
    .number()
    .int()
    .min(1)
    .max(MAX_SESSIONS)
    .default(100_000)
    .describe('sessions whose placement is remembered (and counted by the bound); the one placed first is forgotten first'),
  ...hashingOptions({ default: 1.25, cap: 'ceil(c x (sessions placed + 1), by weight) sessions' }),
});

export const sessionSticky: PolicyDefinition<typeof options> = {
  name: 'session-sticky',
  summary: 'pin each session to a replica (signed cookie, header or client address); new sessions by consistent hashing bounded in sessions per replica',
  options,
  create: (o, deps) =>
    new SessionSticky(
      { cookieName: o.cookie, key: o.key, ...(o.key === 'header' ? { headerName: o.header } : {}) },
      new HashPlacer(o),
      new Placements(o.trackedSessions),
      new LeastLoaded(createInFlightMetric(), deps.rng.stream('session-sticky')),
    ),
};
