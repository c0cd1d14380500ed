import { z } from 'zod';
import { MinHeap } from '../core/heap.js';
import type { BackendId } from '../core/types.js';
import { forgetRemoved } from './load/load-metric.js';
import { type BackendView, type PickContext, type Policy, type PolicyDefinition } from './policy.js';

/**
 * Round robin: nginx's smooth weighted round robin (ngx_http_upstream_round_robin.c,
 * ngx_http_upstream_get_peer; the algorithm of nginx commit 52327e0627f4, 2012). Each pick, every
 * eligible backend's `current` grows by its weight; the largest `current` wins and is lowered by the
 * total weight. Weights 5,1,1 give a a b a c a a: the heavy backend's turns are spread out instead of
 * sent in a burst; equal weights give classic round robin a b c a b c.
 *
 * Tie-break: the first in the Balancer's backend order. Backends out of the rotation (unhealthy,
 * avoided) neither gain nor lose `current`, as in nginx. On a membership change the survivors keep
 * their `current` (the rotation is not reset) and new backends start at 0.
 * Cost: O(n) per pick (an array walk), O(n) state; O(n) more when the backend list changes. When
 * every backend is eligible (PickContext.eligibleCount says so) and all weights are the same whole
 * number, O(log n): every `current` grows by the same amount, so the order is that of a heap keyed
 * by `current` (ties by position) plus a common `lift`, and a pick only lowers the top (exact
 * integer arithmetic, so the picks are the walk's own).
 */
export class SmoothWeightedRoundRobin implements Policy {
  readonly name = 'round-robin';
  /**
   * Each backend's `current`, by position in the list the last pick saw: a pick walks every backend,
   * so it reads and writes a number array by index instead of looking each id up in a map (one
   * lookup per backend per pick). Before the walk the positions are checked against the ids,
   * unless the list is the very array laid out last (the Balancer passes the same array every
   * time and announces every change to it with onMembershipChange, which drops the layout); when
   * the list differs, the values move back to `byId` and are re-laid out.
   */
  private ids: BackendId[] = [];
  private current: number[] = [];
  private laidOut: readonly BackendView[] | undefined;
  /** `current` of the backends not in the positional layout (survives lists that omit a backend). */
  private readonly byId = new Map<BackendId, number>();
  /** The weight every laid-out backend has, when it is the same whole number > 0; else 0 (no fast path). */
  private sameWeight = 0;
  /** Added to every `current` by the fast path instead of writing each (materialize() applies it). */
  private lift = 0;
  /** Positions by (`current` desc, position asc); rebuilt when `current` was walked. */
  private heap = new MinHeap<number>();
  private heapStale = true;

  pick(backends: readonly BackendView[], ctx: PickContext): BackendId | undefined {
    const avoid = ctx.avoid !== undefined && ctx.avoid.size > 0 ? ctx.avoid : undefined;
    if (!this.aligned(backends)) this.layOut(backends);
    if (avoid === undefined && this.sameWeight > 0 && ctx.eligibleCount === backends.length && backends.length > 0) return this.rotateAll();
    this.materialize();
    const picked = this.rotate(backends, avoid);
    // eligible() semantics: avoided backends are skipped unless every healthy one is avoided.
    return picked === undefined && avoid !== undefined ? this.rotate(backends, undefined) : picked;
  }

  /** Whether `backends` is the laid-out list (adopting an equal list of ids as the new one). */
  private aligned(backends: readonly BackendView[]): boolean {
    const ids = this.ids;
    if (backends === this.laidOut && backends.length === ids.length) return true;
    if (backends.length !== ids.length) return false;
    for (let i = 0; i < backends.length; i++) if (backends[i].id !== ids[i]) return false;
    this.adopt(backends);
    return true;
  }

  private adopt(backends: readonly BackendView[]): void {
    this.laidOut = backends;
    const w = backends.length > 0 ? backends[0].weight : 0;
    this.sameWeight = Number.isInteger(w) && w > 0 && backends.every((b) => b.weight === w) ? w : 0;
  }

  /** One smooth-WRR step over the healthy, non-avoided backends, by the walk. */
  private rotate(backends: readonly BackendView[], avoid: ReadonlySet<BackendId> | undefined): BackendId | undefined {
    const { ids, current } = this;
    let best = -1;
    let totalWeight = 0;
    for (let i = 0; i < backends.length; i++) {
      const b = backends[i];
      if (!b.healthy || (avoid !== undefined && avoid.has(b.id))) continue;
      current[i] += b.weight;
      totalWeight += b.weight;
      if (best < 0 || current[i] > current[best]) best = i;
    }
    if (best < 0) return undefined;
    current[best] -= totalWeight;
    return ids[best];
  }

  /** The same step when every backend is eligible and has weight `sameWeight`, from the heap. */
  private rotateAll(): BackendId {
    if (this.heapStale) this.buildHeap();
    const best = this.heap.pop() as number;
    const w = this.sameWeight;
    this.lift += w;
    this.current[best] -= w * this.ids.length;
    this.heap.push(best, -this.current[best], best);
    return this.ids[best];
  }

  /** Apply the fast path's common lift to every `current`, before anything reads them one by one. */
  private materialize(): void {
    this.heapStale = true;
    if (this.lift === 0) return;
    const current = this.current;
    for (let i = 0; i < current.length; i++) current[i] += this.lift;
    this.lift = 0;
  }

  /** Every position keyed by (-current, position): the heap's smallest is the walk's winner. */
  private buildHeap(): void {
    this.heap = new MinHeap<number>();
    for (let i = 0; i < this.current.length; i++) this.heap.push(i, -this.current[i], i);
    this.heapStale = false;
  }

  /** Move the positional values back to `byId`, then lay `backends` out by position (new ones at 0). */
  private layOut(backends: readonly BackendView[]): void {
    this.flush();
    this.ids = backends.map((b) => b.id);
    this.current = this.ids.map((id) => this.byId.get(id) ?? 0);
    this.adopt(backends);
  }

  private flush(): void {
    this.materialize();
    for (let i = 0; i < this.ids.length; i++) this.byId.set(this.ids[i], this.current[i]);
    this.ids = [];
    this.current = [];
    this.laidOut = undefined;
  }

  onMembershipChange(backends: readonly BackendView[]): void {
    this.flush();
    forgetRemoved(this.byId, backends);
  }

  trackedIds(): BackendId[] {
    return [...new Set([...this.byId.keys(), ...this.ids])];
  }
}

export const roundRobin: PolicyDefinition = {
  name: 'round-robin',
  summary: 'smooth weighted round robin (nginx); equal weights give classic round robin',
  options: z.strictObject({}),
  create: () => new SmoothWeightedRoundRobin(),
};
