import type { BackendId } from '../core/types.js';
import type { BackendState, PickContext, Policy } from './policy.js';

/**
 * The contract every policy keeps (DESIGN.md, "Policy"), as a library: the test suite runs it over
 * every built-in (test/policies/contract.test.ts) and `dispatchlab check-policy` over a user's
 * file. A check throws a ContractFailure that says in plain words what the policy did; any other
 * exception is the policy's own (a user's file names its line, policies/policy-file.ts).
 */

export class ContractFailure extends Error {
  override name = 'ContractFailure';
}

/** Builds a fresh policy from a seed, default options. */
export type MakePolicy = (seed: number) => Policy;

export interface ContractCheck {
  /** What the policy must do, as a sentence. */
  readonly rule: string;
  run(make: MakePolicy): void;
}

/** A mutable backend view, as a Balancer keeps it. */
export interface TestBackend {
  id: BackendId;
  weight: number;
  healthy: boolean;
  state: BackendState;
  inFlight: number;
  reportedLoad?: number;
  reportedAt?: number;
}

export function backend(id: BackendId, fields: Partial<Omit<TestBackend, 'id' | 'healthy'>> = {}): TestBackend {
  const state = fields.state ?? 'healthy';
  return { weight: 1, inFlight: 0, ...fields, id, state, healthy: state === 'healthy' };
}

export function backends(...ids: BackendId[]): TestBackend[] {
  return ids.map((id) => backend(id));
}

export function byId(view: readonly TestBackend[], id: BackendId): TestBackend {
  const b = view.find((x) => x.id === id);
  if (!b) throw new Error(`no backend ${id}`);
  return b;
}

/**
 * A minimal Balancer: each step picks with varied keys, dispatches (in-flight + 1, onDispatch),
 * and completes the oldest request once more than `concurrency` are in flight, with a latency that
 * depends on the backend (so latency-aware policies have something to learn). Time advances 1 ms a
 * step. Returns the sequence of picks.
 */
export function drive(
  p: Policy,
  view: TestBackend[],
  steps: number,
  startMs = 0,
  concurrency = 4,
  choose: (p: Policy, view: TestBackend[], ctx: PickContext) => BackendId | undefined = (q, v, ctx) => q.pick(v, ctx),
): (BackendId | undefined)[] {
  const open: { id: BackendId; at: number }[] = [];
  const out: (BackendId | undefined)[] = [];
  for (let i = 0; i < steps; i++) {
    const now = startMs + i;
    const ctx: PickContext = { now, sessionKey: `s${i % 17}`, clientKey: `10.0.0.${i % 5}`, requestKey: `/r${i % 3}` };
    const id = choose(p, view, ctx);
    out.push(id);
    if (id !== undefined) {
      byId(view, id).inFlight += 1;
      p.onDispatch?.(id, now);
      open.push({ id, at: now });
    }
    while (open.length > concurrency) {
      const done = open.shift()!;
      const b = view.find((x) => x.id === done.id);
      if (b) b.inFlight -= 1;
      p.onComplete?.(done.id, { ok: true, latencyMs: 5 + (done.id.charCodeAt(done.id.length - 1) % 7) }, now);
    }
  }
  return out;
}

const show = (id: BackendId | undefined): string => (id === undefined ? 'nothing' : `"${id}"`);

function fail(message: string): never {
  throw new ContractFailure(message);
}

/** The global clock, timer and random functions model code must never call (DESIGN.md, "Clock"). */
const FORBIDDEN: readonly (readonly [object, string, string])[] = [
  [Date, 'now', 'Date.now()'],
  [performance, 'now', 'performance.now()'],
  [Math, 'random', 'Math.random()'],
  [globalThis, 'setTimeout', 'setTimeout()'],
  [globalThis, 'setInterval', 'setInterval()'],
  [globalThis, 'setImmediate', 'setImmediate()'],
];

/** Run `fn` with the forbidden globals recording their callers (and still working); returns what was called. */
function forbiddenCalls(fn: () => void): string[] {
  const called = new Set<string>();
  const saved = FORBIDDEN.map(([owner, key, label]) => {
    const table = owner as Record<string, unknown>;
    const original = table[key] as (...args: unknown[]) => unknown;
    table[key] = function (this: unknown, ...args: unknown[]) {
      called.add(label);
      return original.apply(this, args);
    };
    return () => (table[key] = original);
  });
  try {
    fn();
  } finally {
    for (const restore of saved) restore();
  }
  return [...called];
}

export const POLICY_CONTRACT: readonly ContractCheck[] = [
  {
    rule: 'never picks an unhealthy, draining, ejected or down backend, even when pinned to one',
    run(make) {
      const p = make(1);
      const view = [backend('a'), backend('b', { state: 'draining' }), backend('c', { state: 'down' }), backend('d', { state: 'ejected' }), backend('e', { weight: 3 })];
      const picked = new Set(drive(p, view, 2000));
      for (let i = 0; i < 200; i++) picked.add(p.pick(view, { now: 5000 + i, sessionKey: `x${i}`, pinned: 'bcd'[i % 3] }));
      for (const id of picked) {
        if (id !== 'a' && id !== 'e') fail(`it picked ${show(id)}; of backends a (healthy), b (draining), c (down), d (ejected), e (healthy) only a and e may be picked`);
      }
      if (!picked.has('a') || !picked.has('e')) fail(`in 2200 picks it never picked ${picked.has('a') ? 'e' : 'a'}, which is healthy`);
    },
  },
  {
    rule: 'returns undefined when no backend is eligible',
    run(make) {
      const p = make(1);
      const none = p.pick([], { now: 0 });
      if (none !== undefined) fail(`given no backends it returned ${show(none)}`);
      const down = [backend('a', { state: 'down' }), backend('b', { state: 'draining' })];
      const picked = p.pick(down, { now: 1, sessionKey: 's', clientKey: 'c', requestKey: '/', pinned: 'a' });
      if (picked !== undefined) fail(`given only a down and a draining backend it returned ${show(picked)}`);
    },
  },
  {
    rule: 'honours avoid when an alternative exists, and ignores it when none does',
    run(make) {
      const p = make(1);
      const view = backends('a', 'b', 'c');
      for (let i = 0; i < 300; i++) {
        const ctx = { now: i, sessionKey: `s${i}`, clientKey: `c${i % 7}`, requestKey: `/p${i % 3}`, pinned: 'a' };
        const some = p.pick(view, { ...ctx, avoid: new Set(['a', 'b']) });
        if (some !== 'c') fail(`asked to avoid a and b (a retry), it picked ${show(some)} although c was healthy`);
        const all = p.pick(view, { ...ctx, avoid: new Set(['a', 'b', 'c']) });
        if (all === undefined) fail('asked to avoid every backend, it picked nothing; it should then pick any healthy one');
      }
    },
  },
  {
    rule: 'gives the same sequence for the same seed',
    run(make) {
      const run = (): (BackendId | undefined)[] => drive(make(42), [backend('a'), backend('b', { weight: 2 }), backend('c'), backend('d')], 3000);
      const first = run();
      const second = run();
      const at = first.findIndex((id, i) => id !== second[i]);
      if (at >= 0) fail(`two runs with seed 42 differ at pick ${at + 1} (${show(first[at])}, then ${show(second[at])}): draw randomness only from deps.rng`);
    },
  },
  {
    rule: 'with a pickView, returns the very view (one of those given) whose id pick returns, draw for draw',
    run(make) {
      if (make(0).pickView === undefined) return;
      const fleet = (): TestBackend[] => [backend('a'), backend('b', { weight: 2 }), backend('c', { state: 'draining' }), backend('d'), backend('e')];
      const byPick = drive(make(9), fleet(), 2000);
      const byView = drive(make(9), fleet(), 2000, 0, 4, (p, view, ctx) => {
        const chosen = p.pickView?.(view, ctx);
        if (chosen !== undefined && !view.includes(chosen as TestBackend)) fail(`pickView returned an object that is not one of the views it was given (id ${show(chosen.id)})`);
        return chosen?.id;
      });
      const at = byPick.findIndex((id, i) => id !== byView[i]);
      if (at >= 0) fail(`from the same seed, pick and pickView differ at pick ${at + 1} (${show(byPick[at])}, then ${show(byView[at])}): pick must be pickView(...)?.id`);
    },
  },
  {
    rule: 'keeps no state for removed backends, even when their requests complete late',
    run(make) {
      const p = make(1);
      const view = backends('a', 'b', 'c', 'd');
      drive(p, view, 500);
      byId(view, 'c').inFlight += 1;
      p.onDispatch?.('c', 500);
      const survivors = view.filter((b) => b.id === 'a' || b.id === 'b');
      p.onMembershipChange?.(survivors);
      p.onComplete?.('c', { ok: true, latencyMs: 3 }, 501);
      p.onComplete?.('d', { ok: false, latencyMs: 1 }, 501);
      for (const id of drive(p, survivors, 500, 600)) {
        if (id !== 'a' && id !== 'b') fail(`after c and d were removed it picked ${show(id)}`);
      }
      const stale = (p.trackedIds?.() ?? []).filter((id) => id !== 'a' && id !== 'b');
      if (stale.length > 0) fail(`after c and d were removed (and their requests completed late) it still keeps state for ${stale.join(', ')} (trackedIds)`);
    },
  },
  {
    rule: 'takes one onComplete per onDispatch, completed out of order and some failed, and keeps picking',
    run(make) {
      const p = make(1);
      const view = backends('a', 'b', 'c');
      const open: BackendId[] = [];
      for (let i = 0; i < 1000; i++) {
        const id = p.pick(view, { now: i, sessionKey: `s${i % 11}`, clientKey: `c${i % 3}`, requestKey: '/' });
        if (id === undefined) fail(`with three healthy backends it picked nothing (pick ${i + 1})`);
        byId(view, id).inFlight++;
        p.onDispatch?.(id, i);
        open.push(id);
        // Complete a request from the middle now and then, some as failures, as replicas answer in any order.
        while (open.length > 6 || (open.length > 0 && i % 3 === 0)) {
          const [done] = open.splice((i * 7) % open.length, 1);
          byId(view, done).inFlight--;
          p.onComplete?.(done, { ok: i % 5 !== 0, latencyMs: 1 + (i % 13) }, i);
        }
      }
    },
  },
  {
    rule: 'uses no clock, timer or Math.random (time comes as `now`, randomness from deps.rng)',
    run(make) {
      const called = forbiddenCalls(() => drive(make(1), backends('a', 'b', 'c'), 500));
      if (called.length > 0) fail(`it called ${called.join(', ')}; in the simulator that is the wrong time or an unseeded draw`);
    },
  },
];

/** Every check on `make`: undefined where it passed, else what went wrong. */
export function runContract(make: MakePolicy): { rule: string; failure?: string }[] {
  return POLICY_CONTRACT.map((check) => {
    try {
      check.run(make);
      return { rule: check.rule };
    } catch (err) {
      return { rule: check.rule, failure: err instanceof Error ? err.message : String(err) };
    }
  });
}
