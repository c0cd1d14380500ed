import { describe, expect, it } from 'vitest';
import { DispatcherMetrics } from '../../dispatcher/metrics.js';
import { HealthChecker } from '../../dispatcher/balancer/health-check.js';
import { createRng } from '../../core/rng.js';
import { createPolicy } from '../../policies/index.js';
import { GET, setup } from './fixtures.js';

const fail = { kind: 'connect-error' } as const;
const ok = { kind: 'response', status: 200 } as const;
const outlier = { consecutiveErrors: 1, baseEjectionMs: 30_000, maxEjectedFraction: 0.5 };

/** Send one request and end it with `outcome`; returns the backend it went to. */
function send(h: ReturnType<typeof setup>, tag: string, outcome: typeof fail | typeof ok = ok): string {
  h.balancer.begin(GET, h.results.for(tag));
  const lease = h.results.lease(tag);
  lease.end(outcome);
  return lease.backend;
}

const states = (h: ReturnType<typeof setup>) => h.balancer.views().map((v) => v.state);
const eligible = (h: ReturnType<typeof setup>) => h.balancer.views().map((v) => v.healthy);

describe('Balancer: a passing health check ends an ejection', () => {
  it('healthCheckPassed puts an ejected backend back at once; later ejections still grow', () => {
    const h = setup({ backends: 2, settings: { outlier } });
    expect(send(h, 'a', fail)).toBe('b1');
    expect(states(h)).toEqual(['ejected', 'healthy']);
    h.clock.advance(1000);
    h.balancer.healthCheckPassed('b1');
    expect(states(h)).toEqual(['healthy', 'healthy']);
    expect(h.balancer.backends()[0].ejectedUntil).toBeUndefined();
    // The cancelled ejection timer does not fire later, and the ejected count was released: b1 can be ejected again, for 2x base.
    h.clock.advance(40_000);
    expect(send(h, 'b', fail)).toBe('b1');
    expect(h.balancer.backends()[0]).toMatchObject({ state: 'ejected', ejections: 2, ejectedUntil: 41_000 + 60_000 });
    // A pass on a backend that is not ejected changes nothing.
    h.balancer.healthCheckPassed('b2');
    h.balancer.healthCheckPassed('gone');
    expect(states(h)).toEqual(['ejected', 'healthy']);
  });

  it('a backend marked down while ejected comes back when it is marked up, not when the ejection ends', () => {
    const h = setup({ backends: 3, settings: { outlier } });
    send(h, 'a', fail);
    h.balancer.setHealth('b1', false);
    expect(states(h)).toEqual(['down', 'healthy', 'healthy']);
    h.clock.advance(5000);
    h.balancer.setHealth('b1', true);
    expect(states(h)).toEqual(['healthy', 'healthy', 'healthy']);
    expect(send(h, 'b')).toBe('b1');
  });

  it('the active health checker (live) un-ejects a recovered backend after rise passing probes', async () => {
    const h = setup({ backends: 4, settings: { outlier } });
    let b1Answers = true;
    const checker = new HealthChecker({
      clock: h.clock,
      balancer: h.balancer,
      settings: { intervalMs: 1000, timeoutMs: 300, rise: 2, fall: 2 },
      probe: (id, done) => done(id !== 'b1' || b1Answers),
    });
    const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
    checker.start();
    await flush();
    b1Answers = false;
    send(h, 'a', fail); // ejected for 30 s
    for (let i = 0; i < 3; i++) {
      h.clock.advance(1000);
      await flush();
    }
    expect(states(h)[0]).toBe('down');
    b1Answers = true;
    for (let i = 0; i < 2; i++) {
      h.clock.advance(1000);
      await flush();
    }
    // 5 s after the ejection, not 30 s.
    expect(states(h)[0]).toBe('healthy');
    checker.stop();
  });
});

describe('Balancer panic mode', () => {
  it('below panicThreshold of healthy backends, down and ejected ones are eligible again; above it, not', () => {
    const h = setup({ backends: 4, settings: { outlier, panicThreshold: 0.5 } });
    h.balancer.setHealth('b1', false);
    h.balancer.setHealth('b2', false);
    // 2 of 4 healthy is not below half.
    expect(h.balancer.panic).toBe(false);
    expect(eligible(h)).toEqual([false, false, true, true]);
    expect(send(h, 'a')).toBe('b3');
    expect(send(h, 'b', fail)).toBe('b3'); // ejected: 1 of 4 healthy
    expect(states(h)).toEqual(['down', 'down', 'ejected', 'healthy']);
    expect(h.balancer.panic).toBe(true);
    expect(eligible(h)).toEqual([true, true, true, true]);
    // The policy picks among all of them (first-eligible takes b1, which is down).
    expect(send(h, 'c')).toBe('b1');
    h.balancer.setHealth('b1', true);
    expect(h.balancer.panic).toBe(false);
    expect(eligible(h)).toEqual([true, false, false, true]);
    expect(h.balancer.backends().map((b) => b.healthy)).toEqual([true, false, false, true]);
  });

  it('all backends down: panic routes to them instead of refusing, and a failed attempt retries on another', () => {
    const h = setup({ backends: 2, settings: { outlier: { ...outlier, consecutiveErrors: 100 } } });
    h.balancer.setHealth('b1', false);
    h.balancer.setHealth('b2', false);
    h.balancer.begin(GET, h.results.for('a'));
    const first = h.results.lease('a');
    expect(first.backend).toBe('b1');
    first.end(fail);
    expect(first.retry(h.results.for('a-retry'))).toBe(true);
    expect(h.results.lease('a-retry').backend).toBe('b2');
  });

  it('draining backends neither count towards panic nor take traffic in it', () => {
    const h = setup({ backends: 4, settings: { panicThreshold: 0.5 } });
    h.balancer.drain('b1');
    h.balancer.drain('b2');
    h.balancer.drain('b3');
    // 1 of the 1 not draining is healthy: no panic.
    expect(h.balancer.panic).toBe(false);
    h.balancer.setHealth('b4', false);
    expect(h.balancer.panic).toBe(true);
    expect(eligible(h)).toEqual([false, false, false, true]);
    expect(send(h, 'a')).toBe('b4');
  });

  it('panicThreshold 0 turns it off: with every backend down, requests are refused', () => {
    const h = setup({ backends: 2, settings: { panicThreshold: 0 } });
    h.balancer.setHealth('b1', false);
    h.balancer.setHealth('b2', false);
    h.balancer.begin(GET, h.results.for('a'));
    expect(h.results.all[0].result.refused).toBe('no-backend');
  });

  it('with a concurrency limit, panic still respects free slots and the queue', () => {
    const h = setup({ backends: 2, settings: { maxConnPerBackend: 1, panicThreshold: 0.5 } });
    h.balancer.setHealth('b1', false);
    h.balancer.setHealth('b2', false);
    h.balancer.begin(GET, h.results.for('a'));
    h.balancer.begin(GET, h.results.for('b'));
    h.balancer.begin(GET, h.results.for('c'));
    expect([h.results.lease('a').backend, h.results.lease('b').backend]).toEqual(['b1', 'b2']);
    expect(h.balancer.queueLength()).toBe(1);
    h.results.lease('a').end(ok);
    expect(h.results.lease('c').backend).toBe('b1');
  });
});

describe('panic mode in the metrics', () => {
  it('dispatchlab_panic reads 1 exactly while the Balancer is in panic', async () => {
    const metrics = new DispatcherMetrics('rr');
    const h = setup({ backends: 2, observer: metrics.observer });
    metrics.bind(h.balancer);
    const panic = async () => /^dispatchlab_panic\{policy="rr"\} (\d)$/m.exec(await metrics.registry.metrics())?.[1];
    expect(await panic()).toBe('0');
    h.balancer.setHealth('b1', false);
    h.balancer.setHealth('b2', false);
    expect(await panic()).toBe('1');
    h.balancer.setHealth('b2', true);
    expect(await panic()).toBe('0');
  });
});

describe('Balancer panic mode with a hashing policy and a connection limit', () => {
  // The Balancer announces its views, where a backend serving in panic reads healthy, and picks on
  // pick views, where one full at maxConnPerBackend reads unhealthy. The hashing policies build their
  // table from the first, so a full backend is walked past while every other key stays home.
  // Maglev, on a small table: rebuilt without a backend, it moves some of the others' keys too.
  const KEYS = Array.from({ length: 1000 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
  it('a full backend loses only its own keys while it is full (Maglev)', () => {
    const h = setup({
      backends: 6,
      settings: { maxConnPerBackend: 1, panicThreshold: 0.5 },
      policy: createPolicy({ name: 'consistent-hash', options: { algorithm: 'maglev', key: 'client', tableSize: 251 } }, { rng: createRng(1) }),
    });
    for (const id of ['b1', 'b2', 'b3', 'b4']) h.balancer.setHealth(id, false);
    expect(h.balancer.panic).toBe(true);
    let sent = 0;
    const route = (clientKey: string, keep = false): string => {
      const tag = `r${sent++}`;
      h.balancer.begin({ ...GET, clientKey }, h.results.for(tag));
      const lease = h.results.lease(tag);
      if (!keep) lease.end(ok);
      return lease.backend;
    };
    const homes = new Map(KEYS.map((k) => [k, route(k)]));
    // b2 is down, serves in panic, and now holds its one connection.
    const heldKey = KEYS.find((k) => homes.get(k) === 'b2')!;
    expect(route(heldKey, true)).toBe('b2');
    let moved = 0;
    for (const k of KEYS) {
      const picked = route(k);
      if (homes.get(k) === 'b2') {
        expect(picked).not.toBe('b2');
        moved += 1;
      } else expect(picked, k).toBe(homes.get(k));
    }
    expect(moved).toBeGreaterThan(0);
  });
});
