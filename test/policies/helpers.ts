import { createRng } from '../../core/rng.js';
import type { BackendId } from '../../core/types.js';
import { createPolicy } from '../../policies/index.js';
import type { BackendState, BackendView, PickContext, Policy } from '../../policies/policy.js';
import type { PolicySpec } from '../../core/scenario.js';

/** A mutable backend view, as a test Balancer would keep it. */
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

export function policy(spec: PolicySpec, seed = 1): Policy {
  return createPolicy(spec, { rng: createRng(seed) });
}

/** Tally of `picks` calls of `pick` (no dispatch), as fractions per backend id. */
export function shares(picks: number, pick: (i: number) => BackendId | undefined): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < picks; i++) {
    const id = pick(i) ?? 'none';
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return new Map([...counts].map(([id, n]) => [id, n / picks]));
}

/**
 * A minimal Balancer: each step picks with varied keys, dispatches (in-flight + 1, onDispatch),
 * and completes the oldest request once more than `concurrency` are in flight, with a latency that
 * depends on the backend (so latency-aware policies have something to learn). Time advances 1 ms a
 * step. Returns the sequence of picks.
 */
export function drive(p: Policy, view: TestBackend[], steps: number, startMs = 0, concurrency = 4): (BackendId | undefined)[] {
  const open: { id: BackendId; at: number }[] = [];
  const out: (BackendId | undefined)[] = [];
  for (let i = 0; i < steps; i++) {
    const now = startMs + i;
    const ctx: PickContext = { now, sessionKey: `s${i % 17}`, clientKey: `10.0.0.${i % 5}`, requestKey: `/r${i % 3}` };
    const id = p.pick(view, ctx);
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

export function byId(view: readonly TestBackend[], id: BackendId): TestBackend {
  const b = view.find((x) => x.id === id);
  if (!b) throw new Error(`no backend ${id}`);
  return b;
}

export const views = (v: TestBackend[]): readonly BackendView[] => v;
