import { describe, expect, it } from 'vitest';
import { backends, byId, policy, shares } from './helpers.js';

describe('join-idle-queue', () => {
  it('sends to idle servers first, in the order they became idle, then at random', () => {
    const p = policy('join-idle-queue');
    const view = backends('a', 'b', 'c');
    p.onMembershipChange?.(view);
    const dispatch = (now: number) => {
      const id = p.pick(view, { now })!;
      byId(view, id).inFlight += 1;
      p.onDispatch?.(id, now);
      return id;
    };
    expect([dispatch(0), dispatch(1), dispatch(2)]).toEqual(['a', 'b', 'c']);
    // All busy, I-queue empty: random among them.
    expect(new Set(Array.from({ length: 60 }, (_, i) => p.pick(view, { now: 3 + i })))).toEqual(new Set(['a', 'b', 'c']));
    // c then a finish their only request and report idle; b is still busy.
    for (const id of ['c', 'a']) {
      byId(view, id).inFlight -= 1;
      p.onComplete?.(id, { ok: true, latencyMs: 5 }, 100);
    }
    expect([dispatch(101), dispatch(102)]).toEqual(['c', 'a']);
  });

  it('does not count a server as idle while it still has requests of ours', () => {
    const p = policy('join-idle-queue');
    const view = backends('a', 'b');
    byId(view, 'a').inFlight = 2;
    byId(view, 'b').inFlight = 1;
    byId(view, 'a').inFlight -= 1;
    p.onComplete?.('a', { ok: true, latencyMs: 5 }, 0);
    // a still has one in flight: no idle report, so the pick is random over both.
    const s = shares(2000, (i) => p.pick(view, { now: i }));
    expect(s.get('a')).toBeGreaterThan(0.4);
    expect(s.get('b')).toBeGreaterThan(0.4);
  });

  it('puts a server that comes back healthy and idle in the I-queue', () => {
    const p = policy('join-idle-queue');
    const view = backends('a', 'b');
    byId(view, 'a').inFlight = 1;
    byId(view, 'b').state = 'down';
    byId(view, 'b').healthy = false;
    p.onMembershipChange?.(view);
    byId(view, 'b').state = 'healthy';
    byId(view, 'b').healthy = true;
    p.onMembershipChange?.(view);
    expect(p.pick(view, { now: 0 })).toBe('b');
  });
});
