import { describe, expect, it } from 'vitest';
import { backend, policy, shares } from './helpers.js';

/**
 * Distribution tests in the style of Envoy's least_request_lb_simulation_test: 100,000 picks over a
 * fixed load, observed shares within 1 percentage point of the exact expectation.
 */
const PICKS = 100_000;
const TOLERANCE = 0.01;

describe('power-of-two', () => {
  it('with replacement (Envoy), 2 hosts where one has 10 in flight: 75% / 25%', () => {
    // Both draws land on the loaded host with probability 1/2 x 1/2.
    const p = policy({ name: 'power-of-two', options: { sampling: 'with-replacement' } });
    const view = [backend('idle'), backend('busy', { inFlight: 10 })];
    const s = shares(PICKS, (i) => p.pick(view, { now: i }));
    expect(Math.abs(s.get('idle')! - 0.75)).toBeLessThan(TOLERANCE);
    expect(Math.abs(s.get('busy')! - 0.25)).toBeLessThan(TOLERANCE);
  });

  it('with distinct draws (the default), the most loaded host never gets a request', () => {
    const p = policy('power-of-two');
    const view = [backend('idle'), backend('busy', { inFlight: 10 })];
    expect(shares(10_000, (i) => p.pick(view, { now: i })).get('idle')).toBe(1);
  });

  it('with distinct draws over loads 0,1,2,3: each host wins the pairs where it is lowest (3/6, 2/6, 1/6, 0)', () => {
    const p = policy('power-of-two');
    const view = [0, 1, 2, 3].map((n) => backend(`h${n}`, { inFlight: n }));
    const s = shares(PICKS, (i) => p.pick(view, { now: i }));
    const expected: Record<string, number> = { h0: 3 / 6, h1: 2 / 6, h2: 1 / 6 };
    for (const [id, share] of Object.entries(expected)) expect(Math.abs(s.get(id)! - share)).toBeLessThan(TOLERANCE);
    expect(s.get('h3')).toBeUndefined();
  });

  it('breaks ties between the two draws at random: equal loads get equal shares', () => {
    const p = policy('power-of-two');
    const view = ['a', 'b', 'c', 'd'].map((id) => backend(id, { inFlight: 2 }));
    const s = shares(PICKS, (i) => p.pick(view, { now: i }));
    for (const id of ['a', 'b', 'c', 'd']) expect(Math.abs(s.get(id)! - 0.25)).toBeLessThan(TOLERANCE);
  });

  it('compares cost per weight: weight 3 with one in flight beats weight 1 idle', () => {
    const p = policy('power-of-two');
    // (in-flight + 1) / weight: heavy (1 + 1) / 3 < light (0 + 1) / 1.
    const view = [backend('heavy', { weight: 3, inFlight: 1 }), backend('light', { inFlight: 0 })];
    expect(shares(1000, (i) => p.pick(view, { now: i })).get('heavy')).toBe(1);
  });

  it('can use the peak-ewma metric', () => {
    const p = policy({ name: 'power-of-two', options: { metric: 'peak-ewma', decayMs: 1000 } });
    const view = [backend('fast'), backend('slow')];
    for (const [id, latencyMs] of [['fast', 5], ['slow', 500]] as const) {
      p.onDispatch?.(id, 0);
      p.onComplete?.(id, { ok: true, latencyMs }, 10);
    }
    expect(shares(1000, (i) => p.pick(view, { now: 10 + i / 100 })).get('fast')).toBe(1);
  });
});
