import { describe, expect, it } from 'vitest';
import { ReportedLoadMetric } from '../../policies/load/reported.js';
import { backend, policy, shares } from './helpers.js';

describe('least-loaded', () => {
  it('joins the backend with the fewest requests in flight', () => {
    const p = policy('least-loaded');
    const view = [backend('a', { inFlight: 3 }), backend('b', { inFlight: 1 }), backend('c', { inFlight: 2 })];
    expect(p.pick(view, { now: 0 })).toBe('b');
  });

  it('breaks ties uniformly at random, not by position (30,000 picks, within 1.5 points of 1/3)', () => {
    const p = policy('least-loaded');
    const view = [backend('a', { inFlight: 1 }), backend('b', { inFlight: 1 }), backend('c', { inFlight: 1 }), backend('d', { inFlight: 2 })];
    const s = shares(30_000, (i) => p.pick(view, { now: i }));
    for (const id of ['a', 'b', 'c']) expect(Math.abs(s.get(id)! - 1 / 3)).toBeLessThan(0.015);
    expect(s.get('d')).toBeUndefined();
  });

  it('divides by weight as HAProxy leastconn does, (in-flight + 1) / weight', () => {
    const p = policy('least-loaded');
    // (3 + 1) / 4 = 1 beats (1 + 1) / 1 = 2; idle, weight 2 beats weight 1.
    expect(p.pick([backend('big', { weight: 4, inFlight: 3 }), backend('small', { inFlight: 1 })], { now: 0 })).toBe('big');
    expect(p.pick([backend('one'), backend('two', { weight: 2 })], { now: 0 })).toBe('two');
  });

  it('with metric reported, sees the reported loads only as fresh as refreshMs allows', () => {
    const p = policy({ name: 'least-loaded', options: { metric: 'reported', refreshMs: 1000 } });
    const a = backend('a', { reportedLoad: 0.2, reportedAt: 0 });
    const b = backend('b', { reportedLoad: 0.9, reportedAt: 0 });
    expect(p.pick([a, b], { now: 0 })).toBe('a');
    // The VMs report that a is now busy and b idle; the policy's copy is stale until 1000 ms.
    Object.assign(a, { reportedLoad: 1.5, reportedAt: 100 });
    Object.assign(b, { reportedLoad: 0.1, reportedAt: 100 });
    expect(p.pick([a, b], { now: 500 })).toBe('a');
    expect(p.pick([a, b], { now: 999 })).toBe('a');
    expect(p.pick([a, b], { now: 1000 })).toBe('b');
  });

  it('with refreshMs 0, always uses the latest report; a backend that never reported counts as idle', () => {
    const m = new ReportedLoadMetric(0);
    const a = backend('a', { reportedLoad: 0.5 });
    expect(m.cost(a, 0)).toBe(0.5);
    a.reportedLoad = 0.7;
    expect(m.cost(a, 0)).toBe(0.7);
    expect(m.cost(backend('fresh'), 0)).toBe(0);
  });

  it('with metric peak-ewma, prefers the backend that answers faster', () => {
    const p = policy({ name: 'least-loaded', options: { metric: 'peak-ewma' } });
    for (const [id, latencyMs] of [['fast', 10], ['slow', 300]] as const) {
      p.onDispatch?.(id, 0);
      p.onComplete?.(id, { ok: true, latencyMs }, 50);
    }
    expect(p.pick([backend('slow'), backend('fast', { inFlight: 5 })], { now: 60 })).toBe('fast');
  });

  it('has per-request hooks only when its metric learns from them (in-flight reads the Balancer\'s count)', () => {
    // Without them the Balancer neither calls the policy nor builds an outcome on every request.
    for (const name of ['least-loaded', 'power-of-two']) {
      const p = policy(name);
      expect(p.onDispatch).toBeUndefined();
      expect(p.onComplete).toBeUndefined();
      expect(typeof policy({ name, options: { metric: 'peak-ewma' } }).onComplete).toBe('function');
    }
  });
});
