import { describe, expect, it } from 'vitest';
import { PeakEwmaMetric } from '../../policies/load/peak-ewma.js';
import { backend, drive, policy } from './helpers.js';

const DECAY_MS = 1000;
const metric = () => new PeakEwmaMetric({ decayMs: DECAY_MS, defaultRttMs: 100 });
const sample = (m: PeakEwmaMetric, id: string, latencyMs: number, now: number, ok = true) => {
  m.onDispatch(id, now - latencyMs);
  m.onComplete(id, { ok, latencyMs }, now);
};

describe('peak-ewma metric', () => {
  it('costs ewmaRttMs x (inFlight + 1), starting from the default RTT', () => {
    const m = metric();
    expect(m.cost(backend('a'), 0)).toBe(100);
    expect(m.cost(backend('a', { inFlight: 2 }), 0)).toBe(300);
  });

  it('rises at once on a slow sample (the peak), then decays with the time constant', () => {
    const m = metric();
    sample(m, 'a', 20, 1000);
    expect(m.rttMs('a', 1000)).toBe(20);
    sample(m, 'a', 800, 1100);
    expect(m.rttMs('a', 1100)).toBe(800);
    expect(m.rttMs('a', 1100 + DECAY_MS)).toBeCloseTo(800 * Math.exp(-1), 9);
    expect(m.rttMs('a', 1100 + 5 * DECAY_MS)).toBeLessThan(800 * 0.01);
  });

  it('blends a faster sample with weight exp(-elapsed / decayMs) on the current estimate', () => {
    const m = metric();
    sample(m, 'a', 400, 1000);
    sample(m, 'a', 100, 1000 + DECAY_MS);
    const w = Math.exp(-1);
    expect(m.rttMs('a', 1000 + DECAY_MS)).toBeCloseTo(400 * w * w + 100 * (1 - w), 9);
  });

  it('penalises a backend with requests in flight and no answer yet (one probe at a time)', () => {
    const m = metric();
    m.onDispatch('new', 0);
    sample(m, 'old', 5000, 100);
    expect(m.cost(backend('new', { inFlight: 1 }), 100)).toBeGreaterThan(m.cost(backend('old', { inFlight: 50 }), 100));
    expect(m.cost(backend('new'), 100)).toBeLessThan(m.cost(backend('old'), 100));
  });

  it('never lets a failure make a backend look faster', () => {
    const m = metric();
    sample(m, 'a', 300, 1000);
    sample(m, 'a', 1, 1000 + DECAY_MS, false);
    expect(m.rttMs('a', 1000 + DECAY_MS)).toBeCloseTo(300 * Math.exp(-1), 9);
  });
});

describe('peak-ewma policy', () => {
  it('moves traffic off a backend as soon as it turns slow', () => {
    const p = policy({ name: 'peak-ewma', options: { decayMs: 10_000 } });
    const view = [backend('a'), backend('b'), backend('c')];
    drive(p, view, 300);
    p.onDispatch?.('b', 299);
    view[1].inFlight += 1;
    p.onComplete?.('b', { ok: true, latencyMs: 2000 }, 300);
    view[1].inFlight -= 1;
    const after = drive(p, view, 300, 301);
    expect(after.filter((id) => id === 'b').length).toBe(0);
  });
});
