import { z } from 'zod';
import type { BackendId } from '../core/types.js';
import { eligible, type BackendView, type PickContext, type Policy, type PolicyDefinition } from './policy.js';
import { WeightedRandom } from './random.js';

/**
 * Join-Idle-Queue (Lu, Xie, Kliot, Geller, Larus, Greenberg, "Join-Idle-Queue: A Novel Load
 * Balancing Algorithm for Dynamically Scalable Web Services", Performance Evaluation 68(11), 2011):
 * the dispatcher keeps an I-queue of servers that told it they are idle. A request goes to the
 * server at the head of the I-queue, which leaves it; with the I-queue empty, to a random server.
 * No load is polled on the request path, which is what lets JIQ scale to many dispatchers; the
 * paper reports a 30-fold cut in queueing overhead against power-of-two at medium to high load.
 *
 * Here a server "reports idle" when one of this dispatcher's requests completes on it and it has
 * none of them left in flight (read from the view at the next pick), and when it joins or comes
 * back healthy with nothing in flight. With several dispatchers, each one's I-queue thus holds the
 * servers idle with respect to its own requests: a server reports to the dispatcher whose request
 * it just finished, where the paper has it pick one at random.
 *
 * Tie-break: the I-queue is first-in first-out (the server idle the longest goes first); the
 * fallback is weighted random. Avoided (retry) servers keep their place in the I-queue.
 * Cost: O(n) per pick and per report (n backends; the I-queue is a short array).
 */
export class JoinIdleQueue implements Policy {
  readonly name = 'join-idle-queue';
  private idle: BackendId[] = [];
  /** Servers a request of ours just completed on: idle if nothing of ours is left in flight there. */
  private readonly reports = new Set<BackendId>();

  constructor(private readonly fallback: WeightedRandom) {}

  pick(backends: readonly BackendView[], ctx: PickContext): BackendId | undefined {
    this.collectReports(backends);
    const candidates = new Set(eligible(backends, ctx.avoid).map((b) => b.id));
    const at = this.idle.findIndex((id) => candidates.has(id));
    if (at < 0) return this.fallback.pick(backends, ctx);
    const [id] = this.idle.splice(at, 1);
    return id;
  }

  onComplete(id: BackendId): void {
    this.reports.add(id);
  }

  onMembershipChange(backends: readonly BackendView[]): void {
    const present = new Set(backends.filter((b) => b.healthy).map((b) => b.id));
    this.idle = this.idle.filter((id) => present.has(id));
    for (const id of this.reports) if (!present.has(id)) this.reports.delete(id);
    for (const b of backends) if (b.healthy && b.inFlight === 0) this.report(b.id);
  }

  trackedIds(): BackendId[] {
    return [...new Set([...this.idle, ...this.reports])];
  }

  private collectReports(backends: readonly BackendView[]): void {
    if (this.reports.size === 0) return;
    const byId = new Map(backends.map((b) => [b.id, b]));
    // In completion order: the I-queue is ordered by when servers became idle.
    for (const id of this.reports) {
      const b = byId.get(id);
      if (b?.healthy && b.inFlight === 0) this.report(id);
    }
    this.reports.clear();
  }

  private report(id: BackendId): void {
    if (!this.idle.includes(id)) this.idle.push(id);
  }
}

export const joinIdleQueue: PolicyDefinition = {
  name: 'join-idle-queue',
  summary: 'Join-Idle-Queue (Lu et al. 2011): the longest-idle server that reported idle, else random',
  options: z.strictObject({}),
  create: (_options, deps) => new JoinIdleQueue(new WeightedRandom(deps.rng.stream('join-idle-queue'))),
};
