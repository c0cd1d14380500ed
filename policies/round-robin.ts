import { z } from 'zod';
import { MinHeap } from '../core/heap.js';
import type { BackendId } from '../core/types.js';
import { forgetRemoved } from './load/load-metric.js';
import { allEligible, type BackendView, type PickContext, type Policy, type PolicyDefinition } from './policy.js';

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
 * every backend is eligible (PickContext.eligibleCount says so) and the weights are whole numbers
 * of at most MAX_WEIGHT_CLASSES distinct values, O(k + log n) for k distinct weights: within a
 * weight class every `current` grows by the same amount each pick, so the class's order is that of
 * a heap keyed by `current` (ties by position), its members' growth is `steps` times the weight,
 * added when read, and a pick compares the k classes' tops and lowers the winner only. The
 * arithmetic is exact on whole numbers, so the picks are the walk's own. (A data centre's 10,000
 * replicas of two or three weights cost a few heap steps a pick instead of a 10,000-step walk.)
 */
/** Past this many distinct weights the fast path's comparisons of class tops stop paying; picks walk. */
const MAX_WEIGHT_CLASSES = 8;

/** The laid-out backends of one weight, in a heap by (`current` desc, position asc). */
interface WeightClass {
  readonly weight: number;
  heap: MinHeap<number>;
}

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
  /**
   * The laid-out backends grouped by weight, when every weight is a whole number > 0 and there are
   * at most MAX_WEIGHT_CLASSES of them; else undefined (no fast path). Each class's heap holds its
   * positions by (`current` desc, position asc), rebuilt when `current` was walked.
   */
  private classes: WeightClass[] | undefined;
  private heapsStale = true;
  /** The laid-out backends' weights, by position, and their sum. */
  private weights: number[] = [];
  private totalWeight = 0;
  /** Fast-path picks since `current` was last written out: backend i's `current` is short by weights[i] times this (materialize() adds it). */
  private steps = 0;

  pick(backends: readonly BackendView[], ctx: PickContext): BackendId | undefined {
    const avoid = ctx.avoid !== undefined && ctx.avoid.size > 0 ? ctx.avoid : undefined;
    if (!this.aligned(backends)) this.layOut(backends);
    if (this.classes !== undefined && allEligible(backends, ctx)) return this.rotateAll(this.classes);
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
    // The fast path's growth so far is by the weights it ran with.
    this.materialize();
    this.laidOut = backends;
    this.weights = backends.map((b) => b.weight);
    this.totalWeight = this.weights.reduce((sum, w) => sum + w, 0);
    this.heapsStale = true;
    const distinct = [...new Set(this.weights)];
    const whole = distinct.every((w) => Number.isInteger(w) && w > 0);
    this.classes = whole && distinct.length <= MAX_WEIGHT_CLASSES ? distinct.map((weight) => ({ weight, heap: new MinHeap<number>() })) : undefined;
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

  /** The same step when every backend is eligible, from the weight classes' heaps. */
  private rotateAll(classes: readonly WeightClass[]): BackendId {
    if (this.heapsStale) this.buildHeaps(classes);
    const steps = ++this.steps;
    const current = this.current;
    // Each class's top is its largest `current` (first by position on a tie); the walk's winner is
    // the largest of those, first by position on a tie.
    let winner = classes[0];
    let best = winner.heap.peek() as number;
    let bestValue = current[best] + winner.weight * steps;
    for (let c = 1; c < classes.length; c++) {
      const top = classes[c].heap.peek() as number;
      const value = current[top] + classes[c].weight * steps;
      if (value > bestValue || (value === bestValue && top < best)) {
        winner = classes[c];
        best = top;
        bestValue = value;
      }
    }
    winner.heap.pop();
    current[best] -= this.totalWeight;
    winner.heap.push(best, -current[best], best);
    return this.ids[best];
  }

  /** Write the fast path's growth into every `current`, before anything reads them one by one. */
  private materialize(): void {
    this.heapsStale = true;
    if (this.steps === 0) return;
    const { current, weights, steps } = this;
    for (let i = 0; i < current.length; i++) current[i] += weights[i] * steps;
    this.steps = 0;
  }

  /** Every position in its weight's heap, keyed by (-current, position): each heap's smallest is its class's winner. */
  private buildHeaps(classes: readonly WeightClass[]): void {
    this.materialize();
    const byWeight = new Map(classes.map((c) => [c.weight, c]));
    for (const c of classes) c.heap = new MinHeap<number>();
    for (let i = 0; i < this.current.length; i++) byWeight.get(this.weights[i])?.heap.push(i, -this.current[i], i);
    this.heapsStale = false;
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
