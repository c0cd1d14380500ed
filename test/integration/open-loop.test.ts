import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseScenario } from '../../core/scenario.js';
import type { OpenLoopPlan } from '../../loadtest/load-plan.js';
import { runOpenLoop } from '../../loadtest/open-loop.js';
import { simulate } from '../../sim/simulation.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * A target that answers after `delayMs`, gives a request without a cookie a new one (and notes
 * which session it gave it to), and logs what it saw. The tests compare what the generator
 * planned and sent, which a busy machine cannot change; its speed only shows in latencies, which
 * are asserted as lower bounds.
 */
let target: TestServer;
let url = '';
const seen: Array<{ path: string; cookie?: string }> = [];
/** cookie value given out -> the session (the `s` query parameter) of the request it answered. */
const issuedTo = new Map<string, string>();
let delayMs = 5;

const sessionOf = (path: string): string => /[?&]s=(\d+)/.exec(path)?.[1] ?? '?';

beforeAll(async () => {
  let nextCookie = 0;
  target = await startTestServer((req, res) => {
    const path = req.url ?? '';
    seen.push({ path, cookie: req.headers.cookie });
    req.resume();
    setTimeout(() => {
      if (!req.headers.cookie) {
        const cookie = `sid=${nextCookie++}`;
        issuedTo.set(cookie, sessionOf(path));
        res.setHeader('set-cookie', `${cookie}; Path=/`);
      }
      res.end(path.startsWith('/fail') ? undefined : 'ok');
    }, delayMs);
    if (path.startsWith('/fail')) res.statusCode = 502;
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

/**
 * Limits no stall can reach (every arrival of a window could be sent in one burst after a stall),
 * so every planned request is sent and answered, and its code is the one its class plans.
 */
function plan(over: Partial<OpenLoopPlan> = {}): OpenLoopPlan {
  return { kind: 'open', url, seed: 1, classes: scenario.workload.classes, sessions: 5, warmupMs: 0, durationMs: 600, timeoutMs: 60_000, rateRps: 200, maxInFlight: 1000, ...over };
}

describe('runOpenLoop', () => {
  it('sends the same seeded arrivals every time, answers them all, and counts errors by code', async () => {
    delayMs = 5;
    const sent = async (): Promise<[Awaited<ReturnType<typeof runOpenLoop>>, string[]]> => {
      seen.length = 0;
      const result = await runOpenLoop(plan());
      return [result, seen.map((r) => r.path).sort()];
    };
    const [a, pathsA] = await sent();
    const [b, pathsB] = await sent();
    // The plan: the same requests (class, session, path) every time, each sent once.
    expect(pathsA).toEqual(pathsB);
    expect(pathsA).toHaveLength(a.requests);
    expect(a.requests).toBe(b.requests);
    expect(a.codes).toEqual(b.codes);
    expect(a.codes['502']).toBe(pathsA.filter((p) => p.startsWith('/fail')).length);
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
    delayMs = 5;
    issuedTo.clear();
    // Every warm-up request is answered before the measured window starts (the generator drains
    // between them), so by then each session holds a cookie, however slow the machine.
    let measured: typeof seen = [];
    await runOpenLoop(plan({ warmupMs: 400, durationMs: 400 }), {
      beforeMeasure: async () => {
        seen.length = 0;
        measured = seen;
      },
    });
    expect(new Set(measured.map((r) => sessionOf(r.path))).size).toBe(5);
    for (const { path, cookie } of measured) {
      expect(cookie, path).toBeDefined();
      expect(issuedTo.get(cookie!), path).toBe(sessionOf(path));
    }
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

  it('sends arrival i to dispatcher i mod K, as simulate --dispatchers K does, and reports every request where it went', async () => {
    delayMs = 5;
    const second: string[] = [];
    const other = await startTestServer((req, res) => {
      second.push(req.url ?? '');
      req.resume();
      res.end('ok');
    });
    try {
      seen.length = 0;
      const ended = new Map<string, string[]>();
      const result = await runOpenLoop(plan({ dispatchers: [url, other.url] }), {
        onRequestEnd: (code, to) => ended.set(to, [...(ended.get(to) ?? []), code]),
      });
      // Alternating arrivals: the first dispatcher gets the odd one out when the count is odd.
      expect(seen.length).toBe(Math.ceil(result.requests / 2));
      expect(second.length).toBe(Math.floor(result.requests / 2));
      expect(ended.get(`${url}/`)?.length).toBe(seen.length);
      expect(ended.get(`${other.url}/`)?.length).toBe(second.length);
      expect([...ended.values()].flat().filter((c) => c === '200').length).toBe(result.codes['200']);
    } finally {
      await other.close();
    }
  });

  it('gives up on a request at its deadline even while its answer trickles in, and counts it as a timeout', async () => {
    const trickle = await startTestServer((req, res) => {
      req.resume();
      res.writeHead(200);
      // A byte every 50 ms, never the end: an idle timeout would never fire.
      const drip = setInterval(() => res.write('.'), 50);
      res.on('close', () => clearInterval(drip));
    });
    try {
      const result = await runOpenLoop(plan({ url: trickle.url, rateRps: 20, durationMs: 300, timeoutMs: 400 }));
      expect(result.requests).toBeGreaterThan(0);
      expect(result.codes).toEqual({ timeout: result.requests });
    } finally {
      await trickle.close();
    }
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

  it("sends nothing until beforeWarmup, the run's start, has returned: open and closed loop", async () => {
    const { runLoadInChild } = await import('../../loadtest/loadgen.js');
    delayMs = 1;
    const closed = { kind: 'closed', url, seed: 1, classes: scenario.workload.classes, sessions: 0, warmupMs: 0, durationMs: 300, timeoutMs: 60_000, connections: 2 } as const;
    for (const load of [plan({ durationMs: 300 }), closed]) {
      const before = seen.length;
      let sentDuringHook = -1;
      const result = await runLoadInChild(load, {
        beforeWarmup: async () => {
          await new Promise((resolve) => setTimeout(resolve, 200));
          sentDuringHook = seen.length - before;
        },
      });
      expect(sentDuringHook).toBe(0);
      expect(result.requests).toBeGreaterThan(0);
    }
  });

  it('reports a failure in the child as a rejection', async () => {
    const { runLoadInChild } = await import('../../loadtest/loadgen.js');
    await expect(runLoadInChild({ ...plan(), url: 'not a url' })).rejects.toThrow(/load generator: Invalid URL/);
  });

  it("measures the window simulate's drainAfterWarmup does: the same arrivals, the warm-up's drained first", async () => {
    delayMs = 1;
    const result = await runOpenLoop(plan({ warmupMs: 300, durationMs: 400 }));
    const same = parseScenario({
      name: 't',
      seed: 1,
      hosts: [{ name: 'h', cores: 1, memoryMb: 1024 }],
      vms: [{ name: 'web', host: 'h' }],
      workload: { sessions: 5, classes: scenario.workload.classes, arrival: { rateRps: 200 } },
      policies: ['round-robin'],
      warmup: '300ms',
      duration: '700ms',
    });
    const simulated = simulate(same, { drainAfterWarmup: true });
    const run = simulated.runs[0];
    expect(result.requests).toBeGreaterThan(40);
    expect(run.requests).toBe(result.requests);
    // Its window starts once the warm-up's requests are answered, after the warm-up's end.
    expect(run.timelineWarmupMs).toBeGreaterThan(300);
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
