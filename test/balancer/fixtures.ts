import { VirtualClock } from '../../core/virtual-clock.js';
import { ScenarioSchema, type DispatcherSettings } from '../../core/scenario.js';
import type { BackendId } from '../../core/types.js';
import { eligible, type BackendView, type Outcome, type PickContext, type Policy } from '../../policies/policy.js';
import { Balancer, type BackendInit } from '../../dispatcher/balancer/balancer.js';
import type { Admission, BalancerObserver, Lease, RequestInfo } from '../../dispatcher/balancer/types.js';

/** Dispatcher settings as a scenario would give them, with the fields a test cares about overridden. */
export function settings(overrides: Record<string, unknown> = {}): DispatcherSettings {
  return ScenarioSchema.shape.dispatcher.parse(overrides);
}

/**
 * A deterministic test policy: the first eligible backend in view order (respecting `avoid`), or
 * the pinned one when `sticky` and it is eligible. Records every hook call it gets.
 */
export class FirstEligible implements Policy {
  readonly calls: string[] = [];
  membership: readonly BackendView[] = [];
  constructor(
    readonly name = 'first-eligible',
    readonly sticky = false,
  ) {}
  pick(backends: readonly BackendView[], ctx: PickContext): BackendId | undefined {
    const candidates = eligible(backends, ctx.avoid);
    if (this.sticky && ctx.pinned !== undefined) {
      const pinned = candidates.find((b) => b.id === ctx.pinned);
      if (pinned) return pinned.id;
    }
    return candidates[0]?.id;
  }
  onDispatch(id: BackendId): void {
    this.calls.push(`dispatch ${id}`);
  }
  onComplete(id: BackendId, outcome: Outcome): void {
    this.calls.push(`complete ${id} ${outcome.ok ? 'ok' : 'fail'} ${outcome.latencyMs}`);
  }
  onMembershipChange(backends: readonly BackendView[]): void {
    this.membership = backends;
  }
  count(prefix: string): number {
    return this.calls.filter((c) => c.startsWith(prefix)).length;
  }
}

export const GET: RequestInfo = { retryable: true };
export const POST: RequestInfo = { retryable: false };

/** Collects admissions in the order they arrive. */
export class Results {
  readonly all: { tag: string; result: Admission }[] = [];
  for(tag: string): (result: Admission) => void {
    return (result) => this.all.push({ tag, result });
  }
  lease(tag: string): Lease {
    const found = this.all.find((r) => r.tag === tag);
    if (!found?.result.lease) throw new Error(`no lease for ${tag}: ${JSON.stringify(found?.result)}`);
    return found.result.lease;
  }
  tags(): string[] {
    return this.all.map((r) => r.tag);
  }
}

export function ids(n: number): BackendInit[] {
  return Array.from({ length: n }, (_, i) => ({ id: `b${i + 1}` }));
}

export function setup(opts: { backends?: number; settings?: Record<string, unknown>; policy?: Policy; observer?: BalancerObserver; clock?: VirtualClock } = {}) {
  const clock = opts.clock ?? new VirtualClock();
  const policy = opts.policy ?? new FirstEligible();
  const balancer = new Balancer({
    clock,
    policy,
    settings: settings(opts.settings),
    backends: ids(opts.backends ?? 2),
    observer: opts.observer,
  });
  return { clock, policy, balancer, results: new Results() };
}

export function inFlight(balancer: Balancer): Record<string, number> {
  return Object.fromEntries(balancer.views().map((v) => [v.id, v.inFlight]));
}
