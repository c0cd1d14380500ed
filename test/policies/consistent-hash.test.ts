import { describe, expect, it } from 'vitest';
import type { BackendId } from '../../core/types.js';
import { keyHash } from '../../policies/hashing/hash.js';
import { HashRing } from '../../policies/hashing/ring.js';
import { MaglevTable } from '../../policies/hashing/maglev.js';
import { createRng } from '../../core/rng.js';
import { backend, backends, byId, policy, randomHistory, type TestBackend } from './helpers.js';

const KEYS = Array.from({ length: 10_000 }, (_, i) => `client-${i}`);
const N = 10;
const ids = Array.from({ length: N }, (_, i) => `web-${i + 1}`);

function assign(algorithm: 'ring' | 'maglev', view: TestBackend[], tableSize = 65537): Map<string, BackendId> {
  const p = policy({ name: 'consistent-hash', options: { algorithm, key: 'client', tableSize } });
  return new Map(KEYS.map((k) => [k, p.pick(view, { now: 0, clientKey: k })!]));
}

describe.each(['ring', 'maglev'] as const)('consistent-hash (%s)', (algorithm) => {
  it('sends a key to the same backend every time, and spreads keys evenly', () => {
    const view = backends(...ids);
    const first = assign(algorithm, view);
    expect(assign(algorithm, view)).toEqual(first);
    const counts = new Map<string, number>();
    for (const id of first.values()) counts.set(id, (counts.get(id) ?? 0) + 1);
    // 1000 keys each expected; ring with 100 points per backend varies by about +-10%, Maglev less.
    for (const id of ids) expect(Math.abs(counts.get(id)! - 1000)).toBeLessThan(250);
  });

  it('moves about 1/n of 10,000 keys when one of n = 10 backends is removed (0.5/n..1.5/n)', () => {
    const before = assign(algorithm, backends(...ids));
    const after = assign(algorithm, backends(...ids.filter((id) => id !== 'web-4')));
    let moved = 0;
    let movedOffSurvivors = 0;
    for (const k of KEYS) {
      if (before.get(k) === after.get(k)) continue;
      moved += 1;
      if (before.get(k) !== 'web-4') movedOffSurvivors += 1;
    }
    expect(moved / KEYS.length).toBeGreaterThan(0.5 / N);
    expect(moved / KEYS.length).toBeLessThan(1.5 / N);
    // Ring: keys of the survivors never move. Maglev: a few do (the paper's "minimal disruption" is
    // approximate); we allow 2% of all keys.
    expect(movedOffSurvivors / KEYS.length).toBeLessThanOrEqual(algorithm === 'ring' ? 0 : 0.02);
  });

  it('re-places only the keys of a backend that goes down, and takes them back when it returns', () => {
    const view = backends(...ids);
    const before = assign(algorithm, view);
    byId(view, 'web-2').state = 'down';
    byId(view, 'web-2').healthy = false;
    const during = assign(algorithm, view);
    expect([...during.values()]).not.toContain('web-2');
    byId(view, 'web-2').state = 'healthy';
    byId(view, 'web-2').healthy = true;
    expect(assign(algorithm, view)).toEqual(before);
  });

  it('walks past a backend that is healthy but full at the connection limit, and keeps the other keys', () => {
    const view = backends(...ids);
    const before = assign(algorithm, view);
    byId(view, 'web-5').healthy = false; // the Balancer's pick view of a full backend: state stays healthy
    const during = assign(algorithm, view);
    for (const k of KEYS) {
      if (before.get(k) === 'web-5') expect(during.get(k)).not.toBe('web-5');
      else expect(during.get(k)).toBe(before.get(k));
    }
  });

  it('hashes over the members announced, as a caller that announces nothing does over each list', () => {
    const rng = createRng(3);
    const options = { algorithm, key: 'request', boundedLoad: 1.5, tableSize: 251 };
    const told = policy({ name: 'consistent-hash', options });
    const silent = policy({ name: 'consistent-hash', options });
    const view = backends(...ids);
    told.onMembershipChange?.(view);
    const history = randomHistory(rng, view, [1, 2], () => told.onMembershipChange?.(view));
    for (let step = 0; step < 3000; step++) {
      history.step();
      const b = view[rng.int(view.length)];
      b.inFlight = Math.max(0, b.inFlight + (rng.next() < 0.5 ? 1 : -1));
      const ctx = { now: step, requestKey: `/k${rng.int(500)}` };
      expect(told.pick(view, ctx), `step ${step}`).toBe(silent.pick(view, ctx));
    }
  });

  it('keeps a backend that serves in panic mode in the table while it is full', () => {
    // The Balancer announces its views (down-but-serving reads healthy) and picks on pick views,
    // where a full backend reads unhealthy: a full one is walked past, never dropped from the table.
    const views = backends(...ids);
    Object.assign(byId(views, 'web-3'), { state: 'down', healthy: true });
    const pickViews = views.map((b) => ({ ...b }));
    const p = policy({ name: 'consistent-hash', options: { algorithm, key: 'client' } });
    p.onMembershipChange?.(views);
    const homes = new Map(KEYS.map((k) => [k, p.pick(pickViews, { now: 0, clientKey: k, eligibleCount: pickViews.length })!]));
    expect([...homes.values()]).toContain('web-3');
    byId(pickViews, 'web-3').healthy = false;
    for (const k of KEYS) {
      const picked = p.pick(pickViews, { now: 1, clientKey: k, eligibleCount: pickViews.length - 1 });
      if (homes.get(k) === 'web-3') expect(picked).not.toBe('web-3');
      else expect(picked).toBe(homes.get(k));
    }
  });

  it('with bounded load, never lets a backend exceed ceil(factor x average) in a fill', () => {
    const factor = 1.25;
    const p = policy({ name: 'consistent-hash', options: { algorithm, key: 'request', boundedLoad: factor, tableSize: 1009 } });
    const view = backends('a', 'b', 'c', 'd', 'e');
    // A hot key first (every request the same), then a mix; no request completes.
    for (let i = 0; i < 2000; i++) {
      const id = p.pick(view, { now: i, requestKey: i < 1000 ? '/hot' : `/k${i % 37}` })!;
      byId(view, id).inFlight += 1;
      p.onDispatch?.(id, i);
      const total = i + 1;
      expect(byId(view, id).inFlight).toBeLessThanOrEqual(Math.ceil((factor * total) / view.length));
    }
  });

  it('without bounded load, a hot key piles onto one backend', () => {
    const p = policy({ name: 'consistent-hash', options: { algorithm, key: 'request', tableSize: 1009 } });
    const view = backends('a', 'b', 'c');
    const picked = new Set(Array.from({ length: 100 }, (_, i) => p.pick(view, { now: i, requestKey: '/hot' })));
    expect(picked.size).toBe(1);
  });

  it('walks past avoided backends to the next preference', () => {
    const p = policy({ name: 'consistent-hash', options: { algorithm, key: 'session', tableSize: 1009 } });
    const view = backends('a', 'b', 'c');
    const home = p.pick(view, { now: 0, sessionKey: 's' })!;
    const next = p.pick(view, { now: 0, sessionKey: 's', avoid: new Set([home]) });
    expect(next).not.toBe(home);
    expect(p.pick(view, { now: 0, sessionKey: 's', avoid: new Set([home]) })).toBe(next);
  });
});

describe('hash tables', () => {
  it('share the key space by weight (ring and Maglev, within 2 points)', () => {
    const members = [{ id: 'a', weight: 1 }, { id: 'b', weight: 3 }];
    for (const table of [new HashRing(members, 200), new MaglevTable(members, 10007)]) {
      let toB = 0;
      for (const k of KEYS) if (table.preferences(keyHash(k))[Symbol.iterator]().next().value === 'b') toB += 1;
      expect(Math.abs(toB / KEYS.length - 0.75)).toBeLessThan(0.02);
    }
  });

  it('list every member once in a key\'s preferences', () => {
    const members = ['a', 'b', 'c', 'd'].map((id) => ({ id, weight: 1 }));
    for (const table of [new HashRing(members, 10), new MaglevTable(members, 101)]) {
      expect([...table.preferences(123456)].sort()).toEqual(['a', 'b', 'c', 'd']);
    }
  });

  it('refuse a Maglev table size that is not prime; grow one smaller than the membership to the next prime', () => {
    expect(() => new MaglevTable([{ id: 'a', weight: 1 }], 100)).toThrow(/prime/);
    const grown = new MaglevTable(['a', 'b', 'c', 'd'].map((id) => ({ id, weight: 1 })), 3);
    expect(grown.entries).toBe(5);
    expect(new Set([...grown.preferences(0)])).toEqual(new Set(['a', 'b', 'c', 'd']));
  });

  it('hashes the first key present when the chosen one is missing, and picks at random without any', () => {
    const p = policy({ name: 'consistent-hash', options: { key: 'session' } });
    const view = ids.map((id) => backend(id));
    const byClient = new Set(Array.from({ length: 50 }, (_, i) => p.pick(view, { now: i, clientKey: '10.1.2.3' })));
    expect(byClient.size).toBe(1);
    const keyless = new Set(Array.from({ length: 200 }, (_, i) => p.pick(view, { now: i })));
    expect(keyless.size).toBeGreaterThan(5);
  });
});
