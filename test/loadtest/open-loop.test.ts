import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseScenario } from '../../core/scenario.js';
import type { OpenLoopPlan } from '../../loadtest/load-plan.js';
import { runOpenLoop } from '../../loadtest/open-loop.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/** A target that answers after `delay` ms (from the query), sets a session cookie, and logs what it saw. */
let target: TestServer;
let url = '';
const seen: Array<{ path: string; cookie?: string }> = [];
let delayMs = 5;

beforeAll(async () => {
  let nextSession = 0;
  target = await startTestServer((req, res) => {
    seen.push({ path: req.url ?? '', cookie: req.headers.cookie });
    req.resume();
    setTimeout(() => {
      if (!req.headers.cookie) res.setHeader('set-cookie', `sid=${nextSession++}; Path=/`);
      res.end(req.url?.startsWith('/fail') ? undefined : 'ok');
    }, delayMs);
    if (req.url?.startsWith('/fail')) res.statusCode = 502;
  });
  url = target.url;
});
afterAll(() => target.close());

const scenario = parseScenario({
  name: 't',
  hosts: [{ name: 'h', cores: 1, memoryMb: 1024 }],
  vms: [{ name: 'web', host: 'h' }],
  workload: {
    sessions: 5,
    classes: [
      { name: 'page', share: 0.9, route: '/', cpuMs: 1 },
      { name: 'bad', share: 0.1, route: '/fail', cpuMs: 1 },
    ],
  },
});

function plan(over: Partial<OpenLoopPlan> = {}): OpenLoopPlan {
  return { kind: 'open', url, seed: 1, classes: scenario.workload.classes, sessions: 5, warmupMs: 0, durationMs: 600, timeoutMs: 2000, rateRps: 200, maxInFlight: 64, ...over };
}

describe('runOpenLoop', () => {
  it('sends the same seeded arrivals every time, answers them all, and counts errors by code', async () => {
    delayMs = 5;
    const a = await runOpenLoop(plan());
    const b = await runOpenLoop(plan());
    expect(a.requests).toBe(b.requests);
    expect(a.codes).toEqual(b.codes);
    // 200 rps for 0.6 s: about 120 arrivals (Poisson sd ~11).
    expect(a.requests).toBeGreaterThan(80);
    expect(a.requests).toBeLessThan(160);
    expect(a.errors).toBe(a.codes['502']);
    expect(a.codes['200'] + a.codes['502']).toBe(a.requests);
    expect(a.latencyMs.p50).toBeGreaterThanOrEqual(5);
    expect(a.latencyMs.p50).toBeLessThanOrEqual(a.latencyMs.p99);
    expect(a.cdf.at(-1)?.[1]).toBe(1);
  });

  it('keeps a cookie jar per session, so a session sends back what it was given', async () => {
    seen.length = 0;
    await runOpenLoop(plan({ durationMs: 400 }));
    const bySession = new Map<string, Set<string>>();
    for (const { path, cookie } of seen) {
      const session = /[?&]s=(\d+)/.exec(path)?.[1] ?? '?';
      if (cookie) bySession.set(session, (bySession.get(session) ?? new Set()).add(cookie));
    }
    expect(bySession.size).toBe(5);
    // Cookies given out concurrently before the first answer may differ; after that one sticks.
    for (const cookies of bySession.values()) expect(cookies.size).toBeLessThanOrEqual(3);
  });

  it('calls beforeMeasure between the phases with nothing in flight, and measures only the window', async () => {
    delayMs = 20;
    let calls = 0;
    const ticks: string[] = [];
    const result = await runOpenLoop(plan({ warmupMs: 600, durationMs: 600 }), {
      beforeMeasure: async () => {
        calls++;
      },
      onTick: (t) => ticks.push(t.phase),
    });
    expect(calls).toBe(1);
    expect(ticks).toContain('warmup');
    expect(ticks).toContain('measure');
    expect(result.requests).toBeLessThan(170);
    // Latency is from the intended send time, so it is never below the server's delay.
    expect(result.latencyMs.p50).toBeGreaterThanOrEqual(20);
  });

  it('drops arrivals beyond maxInFlight instead of queueing them, and reports them', async () => {
    delayMs = 300;
    const result = await runOpenLoop(plan({ maxInFlight: 4, durationMs: 500 }));
    expect(result.codes.dropped).toBeGreaterThan(0);
    expect(result.errors).toBeGreaterThanOrEqual(result.codes.dropped);
    delayMs = 5;
  });
});

describe('runLoadInChild', () => {
  it('runs the plan in another process, relays ticks and waits for beforeMeasure', async () => {
    const { runLoadInChild } = await import('../../loadtest/loadgen.js');
    delayMs = 5;
    const ticks: string[] = [];
    let measured = false;
    const result = await runLoadInChild(plan({ warmupMs: 600, durationMs: 600 }), {
      onTick: (t) => ticks.push(t.phase),
      beforeMeasure: async () => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        measured = true;
      },
    });
    expect(result.pid).not.toBe(process.pid);
    expect(measured).toBe(true);
    expect(ticks).toContain('warmup');
    // The same seeded arrivals as in this process (the warm-up draws come first in both).
    expect(result.requests).toBe((await runOpenLoop(plan({ warmupMs: 600, durationMs: 600 }))).requests);
  });

  it('reports a failure in the child as a rejection', async () => {
    const { runLoadInChild } = await import('../../loadtest/loadgen.js');
    await expect(runLoadInChild({ ...plan(), url: 'not a url' })).rejects.toThrow(/load generator: Invalid URL/);
  });
  it('counts arrivals it sent late when its event loop stalls, and how late', async () => {
    delayMs = 1;
    // Stall this process (the generator's) for 80 ms a little into the run: ~16 arrivals at 200 req/s fall due meanwhile.
    const stall = setTimeout(() => {
      const until = performance.now() + 80;
      while (performance.now() < until);
    }, 150);
    const result = await runOpenLoop(plan({ durationMs: 500 }));
    clearTimeout(stall);
    expect(result.late).toBeGreaterThan(0);
    expect(result.sendLagMs?.max).toBeGreaterThanOrEqual(40);
    expect(result.sendLagMs?.p99).toBeLessThanOrEqual(result.sendLagMs?.max ?? 0);
  });
});
