import { describe, expect, it } from 'vitest';
import { arrival } from '../../bench/fixed-rate.js';

describe('the fixed-rate schedule (bench/fixed-rate.ts)', () => {
  it('sends at the offered rate in all, evenly spaced, every connection in turn at rate / connections', () => {
    const connections = 4;
    const rateRps = 200;
    const arrivals = Array.from({ length: 40 }, (_, i) => arrival(i, connections, rateRps));
    // 200 req/s: one arrival every 5 ms, whichever connection it is on.
    arrivals.forEach((a, i) => expect(a.atMs).toBeCloseTo(i * 5, 9));
    for (let c = 0; c < connections; c++) {
      const own = arrivals.filter((a) => a.connection === c);
      expect(own).toHaveLength(10);
      // Each connection sends every 20 ms (50 req/s), staggered by 5 ms from the one before it.
      own.forEach((a, k) => expect(a.atMs).toBeCloseTo(c * 5 + k * 20, 9));
    }
  });
});
