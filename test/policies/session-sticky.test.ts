import { describe, expect, it } from 'vitest';
import { createRng } from '../../core/rng.js';
import { consistentHash } from '../../policies/consistent-hash.js';
import { Placements, sessionSticky } from '../../policies/session-sticky.js';
import { backends, byId, policy } from './helpers.js';

describe('session-sticky', () => {
  it('is sticky and tells the dispatcher how sessions are keyed', () => {
    const p = policy('session-sticky');
    expect(p.sticky).toBe(true);
    expect(p.session).toEqual({ cookieName: 'dl_session', key: 'cookie' });
    const byHeader = policy({ name: 'session-sticky', options: { key: 'header', header: 'x-user', cookie: 'sid' } });
    expect(byHeader.session).toEqual({ cookieName: 'sid', key: 'header', headerName: 'x-user' });
  });

  it('keeps a session on its pinned backend while that backend is eligible (a hit)', () => {
    const p = policy('session-sticky');
    const view = backends('a', 'b', 'c');
    byId(view, 'b').inFlight = 50; // load does not break a pin
    for (let i = 0; i < 100; i++) expect(p.pick(view, { now: i, sessionKey: `s${i}`, pinned: 'b' })).toBe('b');
  });

  it.each(['draining', 'down', 'ejected'] as const)('re-pins a session whose backend is %s, consistently', (state) => {
    const p = policy('session-sticky');
    const view = backends('a', 'b', 'c');
    byId(view, 'b').state = state;
    byId(view, 'b').healthy = false;
    const moved = p.pick(view, { now: 0, sessionKey: 'alice', pinned: 'b' });
    expect(moved).toMatch(/^[ac]$/);
    // The dispatcher now rewrites the cookie to `moved`; the next request is a hit there.
    expect(p.pick(view, { now: 1, sessionKey: 'alice', pinned: moved })).toBe(moved);
    // Without the new cookie the same session would be placed the same way again.
    expect(p.pick(view, { now: 2, sessionKey: 'alice', pinned: 'b' })).toBe(moved);
  });

  it('re-pins on a retry that avoids the pinned backend', () => {
    const p = policy('session-sticky');
    const view = backends('a', 'b');
    expect(p.pick(view, { now: 0, sessionKey: 's', pinned: 'a', avoid: new Set(['a']) })).toBe('b');
  });

  it('ignores a pin that names no known backend (a stale or foreign cookie)', () => {
    const p = policy('session-sticky');
    const view = backends('a', 'b');
    expect(p.pick(view, { now: 0, sessionKey: 's', pinned: 'web-99' })).toMatch(/^[ab]$/);
  });

  it('places new sessions by hashing, bounded in sessions per backend: spread, no backend overrun, in-flight counts ignored', () => {
    const p = policy('session-sticky');
    const view = backends('a', 'b', 'c', 'd');
    const sessionsOn = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      // In-flight counts that change under every pick: they must not move a placement.
      for (const b of view) b.inFlight = (i * 7 + b.id.charCodeAt(0)) % 5;
      const id = p.pick(view, { now: i, sessionKey: `session-${i}` })!;
      sessionsOn.set(id, (sessionsOn.get(id) ?? 0) + 1);
      expect(sessionsOn.get(id)).toBeLessThanOrEqual(Math.ceil((1.25 * (i + 1)) / 4));
    }
    for (const b of view) expect(sessionsOn.get(b.id)).toBeGreaterThan(80);
    // The same sessions in the same order, with other in-flight counts: the same placements.
    const again = policy('session-sticky');
    const quiet = backends('a', 'b', 'c', 'd');
    const replay = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const id = again.pick(quiet, { now: i, sessionKey: `session-${i}` })!;
      replay.set(id, (replay.get(id) ?? 0) + 1);
    }
    expect(replay).toEqual(sessionsOn);
  });

  it('sends a session it placed back to the same backend when the request carries no pin yet', () => {
    const p = policy('session-sticky');
    const view = backends('a', 'b', 'c', 'd');
    const placed = new Map<string, string>();
    for (let i = 0; i < 40; i++) placed.set(`s${i}`, p.pick(view, { now: i, sessionKey: `s${i}` })!);
    // Requests sent before their session's cookie came back (or keyed without a cookie): the
    // bound has moved on since, the placement has not.
    for (let i = 0; i < 40; i++) expect(p.pick(view, { now: 100 + i, sessionKey: `s${i}` })).toBe(placed.get(`s${i}`));
    // Its backend gone, the session is placed anew, and stays there.
    const home = placed.get('s0')!;
    byId(view, home).state = 'down';
    byId(view, home).healthy = false;
    const moved = p.pick(view, { now: 200, sessionKey: 's0' });
    expect(moved).not.toBe(home);
    byId(view, home).state = 'healthy';
    byId(view, home).healthy = true;
    expect(p.pick(view, { now: 201, sessionKey: 's0' })).toBe(moved);
  });

  it('falls back to the client key, then the least loaded backend when a request has no key', () => {
    const p = policy('session-sticky');
    const view = backends('a', 'b', 'c');
    const byClient = p.pick(view, { now: 0, clientKey: '10.0.0.7' });
    expect(p.pick(view, { now: 1, clientKey: '10.0.0.7' })).toBe(byClient);
    byId(view, 'a').inFlight = 3;
    byId(view, 'c').inFlight = 2;
    expect(p.pick(view, { now: 2 })).toBe('b');
  });

  it('places as a fresh sum would while it keeps the sessions per list: retries, re-placements and forgotten sessions', () => {
    // The bound's total is kept per list and counted as sessions are placed, re-placed (a retry
    // that avoids the home) and forgotten; the walking instance, handed a copy of the list each
    // time, sums it afresh. A tight bound and a short memory make every miscount change a pick.
    const rng = createRng(5);
    const spec = { name: 'session-sticky', options: { boundedLoad: 1, trackedSessions: 30 } };
    const kept = policy(spec);
    const fresh = policy(spec);
    const view = backends('a', 'b', 'c', 'd', 'e', 'f');
    kept.onMembershipChange?.(view);
    let wholeListPicks = 0;
    for (let step = 0; step < 4000; step++) {
      const avoid = rng.next() < 0.3 ? new Set([view[rng.int(view.length)].id]) : undefined;
      const ctx = { now: step, sessionKey: `s${rng.int(100)}`, avoid };
      const eligibleCount = avoid === undefined ? view.length : view.length - 1;
      const got = kept.pick(view, { ...ctx, eligibleCount });
      expect(got, `step ${step}`).toBe(fresh.pick([...view], ctx));
      if (avoid === undefined) wholeListPicks++;
    }
    expect(wholeListPicks).toBeGreaterThan(2000);
  });

  it('rejects a trackedSessions that is not a positive whole number', () => {
    expect(() => policy({ name: 'session-sticky', options: { trackedSessions: 0 } })).toThrow(/trackedSessions/);
    expect(() => policy({ name: 'session-sticky', options: { trackedSessions: 2.5 } })).toThrow(/trackedSessions/);
  });
});

describe('boundedLoad as `dispatchlab policies` describes it', () => {
  it('says what each policy bounds: sessions placed for session-sticky, requests in flight for consistent-hash', () => {
    expect(sessionSticky.options.shape.boundedLoad.description).toBe('bounded-load factor c >= 1: cap each backend at ceil(c x (sessions placed + 1), by weight) sessions; 0 = unbounded');
    expect(consistentHash.options.shape.boundedLoad.description).toBe('bounded-load factor c >= 1: cap each backend at ceil(c x average in-flight); 0 = unbounded');
  });
});

describe('session-sticky placements', () => {
  it('counts the sessions on each backend, moving a re-placed one', () => {
    const placements = new Placements(10);
    placements.place('s1', 'a');
    placements.place('s2', 'a');
    placements.place('s3', 'b');
    expect([placements.countOn('a'), placements.countOn('b'), placements.countOn('c')]).toEqual([2, 1, 0]);
    placements.place('s1', 'c');
    expect([placements.countOn('a'), placements.countOn('b'), placements.countOn('c')]).toEqual([1, 1, 1]);
    expect(placements.homeOf('s1')).toBe('c');
    expect(placements.size).toBe(3);
  });

  it('remembers at most its capacity, forgetting the session placed first', () => {
    const placements = new Placements(2);
    placements.place('s1', 'a');
    placements.place('s2', 'b');
    placements.place('s1', 'b'); // re-placed: still the session placed first
    placements.place('s3', 'a');
    expect(placements.size).toBe(2);
    expect(placements.homeOf('s1')).toBeUndefined();
    expect([placements.homeOf('s2'), placements.homeOf('s3')]).toEqual(['b', 'a']);
    expect([placements.countOn('a'), placements.countOn('b')]).toEqual([1, 1]);
    // Round the ring: every new session forgets the oldest in turn.
    for (let i = 4; i < 10; i++) {
      placements.place(`s${i}`, i % 2 === 0 ? 'a' : 'b');
      expect(placements.homeOf(`s${i - 2}`)).toBeUndefined();
      expect(placements.homeOf(`s${i - 1}`)).toBeDefined();
      expect(placements.size).toBe(2);
    }
    expect(placements.countOn('a') + placements.countOn('b')).toBe(2);
  });
});
