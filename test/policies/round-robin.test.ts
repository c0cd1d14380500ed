import { describe, expect, it } from 'vitest';
import { backend, backends, policy } from './helpers.js';

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
