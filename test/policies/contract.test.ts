import { describe, expect, it } from 'vitest';
import { policyNames } from '../../policies/index.js';
import { backend, backends, byId, drive, policy } from './helpers.js';

/**
 * The contract every registered policy keeps, with its default options (docs/policies.md):
 * only healthy backends, undefined when there are none, `avoid` honoured when an alternative
 * exists, reproducible from the seed, and no state kept for removed backends.
 */
describe.each(policyNames())('policy contract: %s', (name) => {
  it('never picks an unhealthy, draining, ejected or down backend, even when pinned to one', () => {
    const p = policy(name);
    const view = [
      backend('a'),
      backend('b', { state: 'draining' }),
      backend('c', { state: 'down' }),
      backend('d', { state: 'ejected' }),
      backend('e', { weight: 3 }),
    ];
    const picked = new Set(drive(p, view, 2000));
    for (let i = 0; i < 200; i++) picked.add(p.pick(view, { now: 5000 + i, sessionKey: `x${i}`, pinned: 'bcd'[i % 3] }));
    expect([...picked].sort()).toEqual(['a', 'e']);
  });

  it('returns undefined when no backend is eligible', () => {
    const p = policy(name);
    expect(p.pick([], { now: 0 })).toBeUndefined();
    const down = [backend('a', { state: 'down' }), backend('b', { state: 'draining' })];
    expect(p.pick(down, { now: 1, sessionKey: 's', clientKey: 'c', requestKey: '/', pinned: 'a' })).toBeUndefined();
  });

  it('honours avoid when an alternative exists, and ignores it when none does', () => {
    const p = policy(name);
    const view = backends('a', 'b', 'c');
    for (let i = 0; i < 300; i++) {
      const ctx = { now: i, sessionKey: `s${i}`, clientKey: `c${i % 7}`, requestKey: `/p${i % 3}`, pinned: 'a' };
      expect(p.pick(view, { ...ctx, avoid: new Set(['a', 'b']) })).toBe('c');
      expect(p.pick(view, { ...ctx, avoid: new Set(['a', 'b', 'c']) })).toMatch(/^[abc]$/);
    }
  });

  it('gives the same sequence for the same seed', () => {
    const run = (seed: number) => drive(policy(name, seed), [backend('a'), backend('b', { weight: 2 }), backend('c'), backend('d')], 3000);
    expect(run(42)).toEqual(run(42));
  });

  it('keeps no state for removed backends, even when their requests complete late', () => {
    const p = policy(name);
    const view = backends('a', 'b', 'c', 'd');
    drive(p, view, 500);
    const c = byId(view, 'c');
    c.inFlight += 1;
    p.onDispatch?.('c', 500);
    const survivors = view.filter((b) => b.id === 'a' || b.id === 'b');
    p.onMembershipChange?.(survivors);
    p.onComplete?.('c', { ok: true, latencyMs: 3 }, 501);
    p.onComplete?.('d', { ok: false, latencyMs: 1 }, 501);
    const picks = new Set(drive(p, survivors, 500, 600));
    expect([...picks].every((id) => id === 'a' || id === 'b')).toBe(true);
    for (const id of p.trackedIds?.() ?? []) expect(['a', 'b']).toContain(id);
  });
});

describe('registry', () => {
  it('lists the policies the project exists for and the ones users expect', () => {
    expect(policyNames()).toEqual(
      expect.arrayContaining(['round-robin', 'least-loaded', 'session-sticky', 'random', 'power-of-two', 'peak-ewma', 'consistent-hash']),
    );
  });
});

describe('createPolicy', () => {
  it('refuses an unknown name, naming the known ones', () => {
    expect(() => policy('fastest')).toThrow(/unknown policy "fastest" \(known: round-robin, /);
  });

  it('refuses bad options with the path of the bad field', () => {
    expect(() => policy({ name: 'power-of-two', options: { choices: 1 } })).toThrow(/policy "power-of-two": choices: /);
    expect(() => policy({ name: 'consistent-hash', options: { algorithm: 'maglev', tableSize: 1000 } })).toThrow(/tableSize: must be a prime number/);
    expect(() => policy({ name: 'least-loaded', options: { metrc: 'reported' } })).toThrow(/metrc|Unrecognized key/);
    expect(() => policy({ name: 'session-sticky', options: { cookie: 'a b' } })).toThrow(/cookie: must be a cookie name/);
  });
});
