import { describe, expect, it } from 'vitest';
import type { BackendState } from '../../policies/policy.js';
import { FirstEligible, GET, inFlight, setup } from './fixtures.js';

const fail = { kind: 'response', status: 502 } as const;
const ok = { kind: 'response', status: 200 } as const;

describe('Balancer backend states', () => {
  it('ejects after N consecutive failures, for base then 2*base, and puts it back', () => {
    const ejected: string[] = [];
    const changes: string[] = [];
    const { clock, balancer, results } = setup({
      backends: 2,
      settings: { outlier: { consecutiveErrors: 3, baseEjectionMs: 1000, maxEjectedFraction: 0.5 } },
      observer: {
        onEjection: (id) => ejected.push(id),
        onStateChange: (id, from: BackendState, to: BackendState) => changes.push(`${id} ${from}->${to}`),
      },
    });
    const failOnce = (tag: string) => {
      balancer.begin(GET, results.for(tag));
      results.lease(tag).end(fail);
      return results.lease(tag).backend;
    };
    expect([failOnce('1'), failOnce('2')]).toEqual(['b1', 'b1']);
    balancer.begin(GET, results.for('ok'));
    results.lease('ok').end(ok); // a success resets the streak
    expect([failOnce('3'), failOnce('4'), failOnce('5')]).toEqual(['b1', 'b1', 'b1']);
    expect(balancer.views()[0].state).toBe('ejected');
    expect(balancer.backends()[0]).toMatchObject({ ejections: 1, ejectedUntil: 1000, errors: 5, consecutiveFailures: 0 });
    expect(failOnce('6')).toBe('b2');

    clock.advance(999);
    expect(balancer.views()[0].state).toBe('ejected');
    clock.advance(1);
    expect(balancer.views()[0].state).toBe('healthy');

    for (const t of ['7', '8', '9']) failOnce(t);
    expect(balancer.views()[0].state).toBe('ejected');
    clock.advance(1999);
    expect(balancer.views()[0].state).toBe('ejected');
    clock.advance(1);
    expect(balancer.views()[0].state).toBe('healthy');
    expect(ejected).toEqual(['b1', 'b1']);
    expect(changes).toEqual(['b1 healthy->ejected', 'b1 ejected->healthy', 'b1 healthy->ejected', 'b1 ejected->healthy']);
    expect(balancer.stats().ejections).toBe(2);
  });

  it('never ejects beyond maxEjectedFraction, and never the last backend', () => {
    const { balancer, results } = setup({
      backends: 3,
      settings: { outlier: { consecutiveErrors: 1, baseEjectionMs: 1000, maxEjectedFraction: 0.5 } },
    });
    for (let i = 0; i < 6; i++) {
      balancer.begin(GET, results.for(`${i}`));
      results.lease(`${i}`).end({ kind: 'connect-error' });
    }
    // floor(3 * 0.5) = 1 ejected; b2 keeps failing but stays in.
    expect(balancer.views().map((v) => v.state)).toEqual(['ejected', 'healthy', 'healthy']);

    // With b2 down, b1 is the last healthy backend: it stays in however often it fails.
    const pair = setup({ backends: 2, settings: { outlier: { consecutiveErrors: 1, baseEjectionMs: 1000, maxEjectedFraction: 1 } } });
    pair.balancer.setHealth('b2', false);
    for (let i = 0; i < 3; i++) {
      pair.balancer.begin(GET, pair.results.for(`${i}`));
      pair.results.lease(`${i}`).end({ kind: 'connect-error' });
    }
    expect(pair.balancer.views().map((v) => v.state)).toEqual(['healthy', 'down']);

    const single = setup({ backends: 1, settings: { outlier: { consecutiveErrors: 1, baseEjectionMs: 1000, maxEjectedFraction: 1 } } });
    single.balancer.begin(GET, single.results.for('x'));
    single.results.lease('x').end({ kind: 'connect-error' });
    expect(single.balancer.views()[0].state).toBe('healthy');
  });

  it('client aborts do not count against the backend', () => {
    const { balancer, policy, results } = setup({
      backends: 2,
      settings: { outlier: { consecutiveErrors: 1, baseEjectionMs: 1000, maxEjectedFraction: 0.5 } },
    });
    balancer.begin(GET, results.for('a'));
    results.lease('a').end({ kind: 'client-abort' });
    expect(balancer.backends()[0]).toMatchObject({ state: 'healthy', errors: 0 });
    expect((policy as FirstEligible).calls).toEqual(['dispatch b1', 'complete b1 ok 0']);
  });

  it('drain: no new requests, in-flight finish; draining wins over health until undrain', () => {
    const { balancer, results } = setup({ backends: 2 });
    balancer.begin(GET, results.for('a'));
    balancer.drain('b1');
    balancer.begin(GET, results.for('b'));
    expect(results.lease('b').backend).toBe('b2');
    expect(inFlight(balancer)).toEqual({ b1: 1, b2: 1 });
    results.lease('a').end(ok);
    expect(inFlight(balancer)).toEqual({ b1: 0, b2: 1 });
    balancer.setHealth('b1', false);
    balancer.setHealth('b1', true);
    expect(balancer.views()[0].state).toBe('draining');
    balancer.undrain('b1');
    expect(balancer.views()[0].state).toBe('healthy');
    balancer.setHealth('b1', false);
    expect(balancer.views()[0].state).toBe('down');
    balancer.setHealth('b1', true);
    expect(balancer.views()[0].state).toBe('healthy');
  });

  it('a backend coming back dispatches waiting requests', () => {
    const { balancer, results } = setup({ backends: 2, settings: { maxConnPerBackend: 1 } });
    balancer.drain('b2');
    balancer.begin(GET, results.for('a'));
    balancer.begin(GET, results.for('b'));
    expect(balancer.queueLength()).toBe(1);
    balancer.undrain('b2');
    expect(results.lease('b').backend).toBe('b2');
  });

  it('remove: no new requests, in-flight leases still end cleanly on the old policy', () => {
    const { balancer, policy, results } = setup({ backends: 2 });
    balancer.begin(GET, results.for('a'));
    balancer.removeBackend('b1');
    expect(balancer.views().map((v) => v.id)).toEqual(['b2']);
    expect((policy as FirstEligible).membership.map((v) => v.id)).toEqual(['b2']);
    balancer.begin(GET, results.for('b'));
    expect(results.lease('b').backend).toBe('b2');
    results.lease('a').end({ kind: 'connect-error' });
    results.lease('a').end(ok);
    expect((policy as FirstEligible).count('complete b1')).toBe(1);
    expect(balancer.stats().completed).toBe(1);
    expect(() => balancer.removeBackend('b1')).toThrow(/unknown backend "b1"/);
    balancer.addBackend({ id: 'b1', weight: 2 });
    expect(balancer.views().map((v) => [v.id, v.weight, v.inFlight])).toEqual([
      ['b2', 1, 1],
      ['b1', 2, 0],
    ]);
    expect(() => balancer.addBackend({ id: 'b1' })).toThrow(/already exists/);
    expect(() => balancer.setWeight('b1', -1)).toThrow(/weight/);
  });

  it('runtime policy switch: the new policy gets the current views; old leases complete on the old one', () => {
    const { balancer, policy, results } = setup({ backends: 2 });
    const old = policy as FirstEligible;
    balancer.begin(GET, results.for('a'));
    const next = new FirstEligible('next');
    balancer.setPolicy(next);
    expect(balancer.policy).toBe(next);
    expect(next.membership.map((v) => [v.id, v.inFlight])).toEqual([
      ['b1', 1],
      ['b2', 0],
    ]);
    balancer.begin(GET, results.for('b'));
    results.lease('a').end(ok);
    results.lease('b').end(ok);
    expect(old.calls).toEqual(['dispatch b1', 'complete b1 ok 0']);
    expect(next.calls).toEqual(['dispatch b1', 'complete b1 ok 0']);
  });

  it('counts sticky hits and misses, and asks for a repin when the pick differs', () => {
    const hits: boolean[] = [];
    const { balancer, results } = setup({
      backends: 2,
      policy: new FirstEligible('sticky', true),
      observer: { onSticky: (hit) => hits.push(hit) },
    });
    balancer.begin({ retryable: true, sessionKey: 's', pinned: 'b2' }, results.for('hit'));
    balancer.drain('b2');
    balancer.begin({ retryable: true, sessionKey: 's', pinned: 'b2' }, results.for('miss'));
    balancer.begin({ retryable: true, sessionKey: 't' }, results.for('new'));
    expect(['hit', 'miss', 'new'].map((t) => [results.lease(t).backend, results.lease(t).repin])).toEqual([
      ['b2', false],
      ['b1', true],
      ['b1', true],
    ]);
    expect(balancer.stickyStats()).toEqual({ hits: 1, misses: 1 });
    expect(hits).toEqual([true, false]);

    const plain = setup({ backends: 1 });
    plain.balancer.begin({ retryable: true, pinned: 'b9' }, plain.results.for('x'));
    expect(plain.results.lease('x').repin).toBe(false);
    expect(plain.balancer.stickyStats()).toEqual({ hits: 0, misses: 0 });
  });

  it("reportLoad stamps the lease's backend's view with the clock, and ignores removed backends and other Balancers' leases", () => {
    const { clock, balancer, results } = setup({ backends: 2 });
    const other = setup({ backends: 2 });
    clock.advance(42);
    balancer.begin(GET, results.for('1'));
    balancer.reportLoad(results.lease('1'), 0.75);
    expect(balancer.views().map((v) => [v.reportedLoad, v.reportedAt])).toEqual([
      [0.75, 42],
      [undefined, undefined],
    ]);
    // Another Balancer's lease on its own "b1" says nothing about this one's.
    other.balancer.begin(GET, other.results.for('o'));
    expect(other.results.lease('o').backend).toBe('b1');
    balancer.reportLoad(other.results.lease('o'), 9);
    expect(balancer.views()[0].reportedLoad).toBe(0.75);
    // A late report on a removed backend changes nothing, not even a backend added since under its id.
    balancer.removeBackend('b1');
    balancer.addBackend({ id: 'b1' });
    balancer.reportLoad(results.lease('1'), 1);
    expect(balancer.views().map((v) => [v.id, v.reportedLoad])).toEqual([
      ['b2', undefined],
      ['b1', undefined],
    ]);
  });

  it('numbers backends in the order given and added, a number a removal neither shifts nor frees (Lease.backendIndex)', () => {
    const { balancer, results } = setup({ backends: 3 });
    balancer.removeBackend('b1');
    balancer.addBackend({ id: 'b1' });
    balancer.addBackend({ id: 'b9' });
    for (const id of ['b2', 'b3', 'b1', 'b9']) balancer.drain(id);
    const seen: [string, number][] = [];
    for (const id of ['b2', 'b3', 'b1', 'b9']) {
      balancer.undrain(id);
      balancer.begin(GET, results.for(id));
      seen.push([results.lease(id).backend, results.lease(id).backendIndex]);
      balancer.drain(id);
    }
    expect(seen).toEqual([
      ['b2', 1],
      ['b3', 2],
      ['b1', 3],
      ['b9', 4],
    ]);
  });

  it("keeps each backend's data on its record: looked up by id, carried by its leases, gone from the set on removal", () => {
    const { balancer, results } = setup({ backends: 0 });
    const origin = new URL('http://127.0.0.1:8081');
    balancer.addBackend({ id: 'b1', data: origin });
    expect(balancer.backendData('b1')).toBe(origin);
    expect(balancer.backendData('nope')).toBeUndefined();
    balancer.begin(GET, results.for('1'));
    const lease = results.lease('1');
    expect(lease.backendData).toBe(origin);
    balancer.removeBackend('b1');
    expect(balancer.backendData('b1')).toBeUndefined();
    // A lease already out still knows where it was sent.
    expect(lease.backendData).toBe(origin);
    lease.end(ok);
  });
});
