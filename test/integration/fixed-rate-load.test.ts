import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFixedRate } from '../../bench/fixed-rate.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * bench/fixed-rate.ts against a real server on port 0: latency runs from the intended send time.
 * One connection at 20 req/s (an arrival every 50 ms) for 0.5 s; the server holds the first
 * measured request's answer for 400 ms, so the seven arrivals due meanwhile (at 50-350 ms) wait on
 * the connection and are sent late. Measured from their intended times the ten took at least 400,
 * 350, 300, 250, 200, 150, 100, 50, 0 and 0 ms, a median of at least 150; measured from their
 * actual sends (coordinated omission) all but the first would read a millisecond or so, and the
 * median with them. Only lower bounds are checked, with a margin: a busy machine can only add time.
 */

let server: TestServer;
let received = 0;
const HOLD_MS = 400;

beforeAll(async () => {
  server = await startTestServer((_req, res) => {
    received++;
    // The first request opens the connection before the window (not measured); the second is the window's first.
    if (received === 2) setTimeout(() => res.end('ok'), HOLD_MS);
    else res.end('ok');
  });
});

afterAll(() => server.close());

describe('the fixed-rate load generator', () => {
  it('charges a late answer to the requests queued behind it, from their intended send times', async () => {
    const result = await runFixedRate({ url: `${server.url}/`, connections: 1, rateRps: 20, warmupS: 0, durationS: 0.5, timeoutMs: 2000 });
    expect(result.requests).toBe(10);
    expect(result.errors + result.non2xx + result.timeouts).toBe(0);
    expect(result.maxMs).toBeGreaterThanOrEqual(HOLD_MS);
    expect(result.p50Ms).toBeGreaterThanOrEqual(100);
  }, 30_000);
});
