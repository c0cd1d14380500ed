import { describe, expect, it } from 'vitest';
import { createRng } from '../../core/rng.js';
import type { BackendId } from '../../core/types.js';
import { eligible, type BackendView, type PickContext } from '../../policies/policy.js';
import { WeightedRandom } from '../../policies/random.js';
import { backend, backends, byId, policy, randomHistory, shares, type TestBackend } from './helpers.js';

/** The paper's I-queue read plainly, an array searched and spliced on every pick: the oracle for the policy's O(1) one. */
class ArrayJoinIdleQueue {
  idle: BackendId[] = [];
  readonly reports = new Set<BackendId>();

  constructor(private readonly fallback: WeightedRandom) {}

  pick(view: readonly BackendView[], ctx: PickContext): BackendId | undefined {
    for (const id of this.reports) {
      const b = view.find((x) => x.id === id);
      if (b?.healthy && b.inFlight === 0) this.report(id);
    }
    this.reports.clear();
    const candidates = new Set(eligible(view, ctx.avoid).map((b) => b.id));
    const at = this.idle.findIndex((id) => candidates.has(id));
    return at < 0 ? this.fallback.pick(view, ctx) : this.idle.splice(at, 1)[0];
  }

  changed(view: readonly BackendView[]): void {
    const present = new Set(view.filter((b) => b.healthy).map((b) => b.id));
    this.idle = this.idle.filter((id) => present.has(id));
    for (const id of this.reports) if (!present.has(id)) this.reports.delete(id);
    for (const b of view) if (b.healthy && b.inFlight === 0) this.report(b.id);
  }

  private report(id: BackendId): void {
    if (!this.idle.includes(id)) this.idle.push(id);
  }
}

describe('join-idle-queue', () => {
  it('sends to idle servers first, in the order they became idle, then at random', () => {
    const p = policy('join-idle-queue');
    const view = backends('a', 'b', 'c');
    p.onMembershipChange?.(view);
    const dispatch = (now: number) => {
      const id = p.pick(view, { now })!;
      byId(view, id).inFlight += 1;
      p.onDispatch?.(id, now);
      return id;
    };
    expect([dispatch(0), dispatch(1), dispatch(2)]).toEqual(['a', 'b', 'c']);
    // All busy, I-queue empty: random among them.
    expect(new Set(Array.from({ length: 60 }, (_, i) => p.pick(view, { now: 3 + i })))).toEqual(new Set(['a', 'b', 'c']));
    // c then a finish their only request and report idle; b is still busy.
    for (const id of ['c', 'a']) {
      byId(view, id).inFlight -= 1;
      p.onComplete?.(id, { ok: true, latencyMs: 5 }, 100);
    }
    expect([dispatch(101), dispatch(102)]).toEqual(['c', 'a']);
  });

  it('does not count a server as idle while it still has requests of ours', () => {
    const p = policy('join-idle-queue');
    const view = backends('a', 'b');
    byId(view, 'a').inFlight = 2;
    byId(view, 'b').inFlight = 1;
    byId(view, 'a').inFlight -= 1;
    p.onComplete?.('a', { ok: true, latencyMs: 5 }, 0);
    // a still has one in flight: no idle report, so the pick is random over both.
    const s = shares(2000, (i) => p.pick(view, { now: i }));
    expect(s.get('a')).toBeGreaterThan(0.4);
    expect(s.get('b')).toBeGreaterThan(0.4);
  });

  it('puts a server that comes back healthy and idle in the I-queue', () => {
    const p = policy('join-idle-queue');
    const view = backends('a', 'b');
    byId(view, 'a').inFlight = 1;
    byId(view, 'b').state = 'down';
    byId(view, 'b').healthy = false;
    p.onMembershipChange?.(view);
    byId(view, 'b').state = 'healthy';
    byId(view, 'b').healthy = true;
    p.onMembershipChange?.(view);
    expect(p.pick(view, { now: 0 })).toBe('b');
  });

  it('picks as the plain array I-queue does through completions, retries and membership changes', () => {
    const rng = createRng(7);
    const seed = 4;
    const p = policy('join-idle-queue', seed);
    const oracle = new ArrayJoinIdleQueue(new WeightedRandom(createRng(seed).stream('join-idle-queue')));
    const view: TestBackend[] = Array.from({ length: 12 }, (_, i) => backend(`b${i}`));
    const announce = (): void => {
      p.onMembershipChange?.(view);
      oracle.changed(view);
    };
    announce();
    const history = randomHistory(rng, view, [1, 2], announce);
    const open: BackendId[] = [];
    let fromQueue = 0;
    for (let step = 0; step < 50_000; step++) {
      history.step();
      if (open.length > 0 && rng.next() < 0.5) {
        // A request completes, sometimes on a backend removed since.
        const [id] = open.splice(rng.int(open.length), 1);
        const b = view.find((x) => x.id === id);
        if (b !== undefined) b.inFlight -= 1;
        p.onComplete?.(id, { ok: true, latencyMs: 1 }, step);
        oracle.reports.add(id);
        continue;
      }
      const avoid = rng.next() < 0.1 ? new Set(Array.from({ length: 1 + rng.int(12) }, () => view[rng.int(view.length)].id)) : undefined;
      const queued = new Set(oracle.idle);
      const want = oracle.pick(view, { now: step, avoid });
      const got = p.pick(view, { now: step, avoid });
      expect(got, `step ${step}`).toBe(want);
      if (got === undefined) continue;
      if (queued.has(got)) fromQueue++;
      byId(view, got).inFlight += 1;
      p.onDispatch?.(got, step);
      open.push(got);
      expect(p.trackedIds?.(), `step ${step}`).toEqual([...new Set([...oracle.idle, ...oracle.reports])]);
    }
    // Enough picks from the I-queue that its array was compacted (past 1024 stale entries) more than once.
    expect(fromQueue).toBeGreaterThan(2 * 1024);
  });
});

