import { z } from 'zod';
import type { BackendId } from '../core/types.js';
import { viewsById } from './list-memo.js';
import { type BackendView, type PickContext, type Policy, type PolicyDefinition } from './policy.js';
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
 * Cost: amortised O(1) per pick and per report while the I-queue's head is eligible (the usual
 * case: a server idle at its report stays idle until picked here, unless other dispatchers fill
 * it); else O(position of the first eligible server), plus O(n) when every healthy server is
 * avoided. O(n) per membership change.
 */
export class JoinIdleQueue implements Policy {
  readonly name = 'join-idle-queue';
  private readonly idle = new IdleQueue();
  /** Servers a request of ours just completed on: idle if nothing of ours is left in flight there. */
  private readonly reports = new Set<BackendId>();
  private readonly viewsById = viewsById();

  constructor(private readonly fallback: WeightedRandom) {}

  pick(backends: readonly BackendView[], ctx: PickContext): BackendId | undefined {
    const views = this.viewsById.get(backends);
    this.collectReports(views);
    const avoid = ctx.avoid;
    // eligible(): the healthy servers not avoided, or, if that leaves none, every healthy one.
    let id = this.idle.first((idleId) => views.get(idleId)?.healthy === true && avoid?.has(idleId) !== true);
    if (id === undefined && avoid !== undefined && !backends.some((b) => b.healthy && !avoid.has(b.id))) {
      id = this.idle.first((idleId) => views.get(idleId)?.healthy === true);
    }
    if (id === undefined) return this.fallback.pick(backends, ctx);
    this.idle.delete(id);
    return id;
  }

  onComplete(id: BackendId): void {
    this.reports.add(id);
  }

  onMembershipChange(backends: readonly BackendView[]): void {
    this.viewsById.forget();
    const present = new Set(backends.filter((b) => b.healthy).map((b) => b.id));
    this.idle.keepOnly(present);
    for (const id of this.reports) if (!present.has(id)) this.reports.delete(id);
    for (const b of backends) if (b.healthy && b.inFlight === 0) this.idle.push(b.id);
  }

  trackedIds(): BackendId[] {
    return [...new Set([...this.idle.ids(), ...this.reports])];
  }

  private collectReports(views: ReadonlyMap<BackendId, BackendView>): void {
    if (this.reports.size === 0) return;
    // In completion order: the I-queue is ordered by when servers became idle.
    for (const id of this.reports) {
      const b = views.get(id);
      if (b?.healthy && b.inFlight === 0) this.idle.push(id);
    }
    this.reports.clear();
  }
}

/**
 * The I-queue: servers in the order they reported idle, each at most once, any of them removable
 * in O(1). A removed server's entry stays in the array, stale, and is dropped when the head passes
 * it. (A Set alone keeps the order, but V8 leaves deleted entries as holes that iteration skips until
 * the table is rehashed, and picks delete from the front: finding the head would cost O(size).)
 */
class IdleQueue {
  private entries: BackendId[] = [];
  /** Entries before `head` are stale. */
  private head = 0;
  /** Entries sliced off the array's front so far: entry i is at position `dropped + i`. */
  private dropped = 0;
  /** The servers queued, each with the position of its live entry. */
  private readonly at = new Map<BackendId, number>();

  push(id: BackendId): void {
    if (this.at.has(id)) return;
    this.at.set(id, this.dropped + this.entries.length);
    this.entries.push(id);
  }

  delete(id: BackendId): void {
    this.at.delete(id);
  }

  /** The first server queued that passes `test`, in queue order. */
  first(test: (id: BackendId) => boolean): BackendId | undefined {
    while (this.head < this.entries.length && !this.isLive(this.head)) this.head++;
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      // Shift only a long dead prefix: amortised O(1) per entry.
      this.entries = this.entries.slice(this.head);
      this.dropped += this.head;
      this.head = 0;
    }
    for (let i = this.head; i < this.entries.length; i++) {
      if (this.isLive(i) && test(this.entries[i])) return this.entries[i];
    }
    return undefined;
  }

  keepOnly(present: ReadonlySet<BackendId>): void {
    for (const id of this.at.keys()) if (!present.has(id)) this.at.delete(id);
  }

  /** The servers queued, in queue order (a Map iterates in insertion order, and a server is re-inserted only after it was deleted). */
  ids(): BackendId[] {
    return [...this.at.keys()];
  }

  private isLive(i: number): boolean {
    return this.at.get(this.entries[i]) === this.dropped + i;
  }
}

export const joinIdleQueue: PolicyDefinition = {
  name: 'join-idle-queue',
  summary: 'Join-Idle-Queue (Lu et al. 2011): the longest-idle server that reported idle, else random',
  options: z.strictObject({}),
  create: (_options, deps) => new JoinIdleQueue(new WeightedRandom(deps.rng.stream('join-idle-queue'))),
};
