import { describe, expect, it } from 'vitest';
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

  it('places new sessions by hashing with bounded load: spread, and no backend overrun', () => {
    const p = policy('session-sticky');
    const view = backends('a', 'b', 'c', 'd');
    for (let i = 0; i < 400; i++) {
      const id = p.pick(view, { now: i, sessionKey: `session-${i}` })!;
      byId(view, id).inFlight += 1;
      expect(byId(view, id).inFlight).toBeLessThanOrEqual(Math.ceil((1.25 * (i + 1)) / 4));
    }
    for (const b of view) expect(b.inFlight).toBeGreaterThan(80);
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
});
