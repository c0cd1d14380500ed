/**
 * The host's index of its VMs' next completions, so that an event on one VM costs O(log VMs of the
 * host) instead of a pass over all of them (issue 19): a complete binary tree over the VMs' slots
 * (a segment tree, as in de Berg et al., "Computational Geometry", 10.3) whose inner nodes hold
 * the minimum of their children, twice: of `completionAtMs` (when the VM's first job completes:
 * the root is the host's timer) and of `dueFromMs` (the earliest instant at which the VM's due test
 * could pass: a lower bound, VmState.dueFromMs). Updating one VM walks one leaf-to-root path;
 * `collectDue` descends only into subtrees holding a VM whose bound has passed, and lists those VMs
 * in slot order, the order in which a pass over all VMs would have met them, so completions at one
 * instant are delivered in the same order as before. Ties need no breaking: only minima are kept.
 */
export class CompletionTree {
  /** Leaves at [leaves, 2 * leaves); node i's children at 2i and 2i + 1; the root at 1. */
  private readonly leaves: number;
  private readonly completion: Float64Array;
  private readonly dueFrom: Float64Array;

  constructor(private readonly size: number) {
    let leaves = 1;
    while (leaves < size) leaves *= 2;
    this.leaves = leaves;
    this.completion = new Float64Array(2 * leaves).fill(Infinity);
    this.dueFrom = new Float64Array(2 * leaves).fill(Infinity);
  }

  /** The earliest completion over all VMs (Infinity: none). */
  get earliestMs(): number {
    return this.completion[1];
  }

  /** Set slot `slot` and bring its path to the root up to date: O(log n). */
  set(slot: number, completionAtMs: number, dueFromMs: number): void {
    const completion = this.completion;
    const dueFrom = this.dueFrom;
    let i = slot + this.leaves;
    completion[i] = completionAtMs;
    dueFrom[i] = dueFromMs;
    for (i >>= 1; i >= 1; i >>= 1) {
      const l = 2 * i;
      const c = completion[l] < completion[l + 1] ? completion[l] : completion[l + 1];
      const d = dueFrom[l] < dueFrom[l + 1] ? dueFrom[l] : dueFrom[l + 1];
      // Nothing above changes once a node keeps its values.
      if (c === completion[i] && d === dueFrom[i]) return;
      completion[i] = c;
      dueFrom[i] = d;
    }
  }

  /** Set a leaf without updating the inner nodes; `rebuild` once after setting many: O(n) in all. */
  setLeaf(slot: number, completionAtMs: number, dueFromMs: number): void {
    this.completion[slot + this.leaves] = completionAtMs;
    this.dueFrom[slot + this.leaves] = dueFromMs;
  }

  rebuild(): void {
    const { completion, dueFrom } = this;
    for (let i = this.leaves - 1; i >= 1; i--) {
      const l = 2 * i;
      completion[i] = completion[l] < completion[l + 1] ? completion[l] : completion[l + 1];
      dueFrom[i] = dueFrom[l] < dueFrom[l + 1] ? dueFrom[l] : dueFrom[l + 1];
    }
  }

  /** Write into `out` the slots whose dueFrom is at most `atMs`, in slot order; returns how many. */
  collectDue(atMs: number, out: number[]): number {
    return this.dueFrom[1] <= atMs ? this.collect(1, atMs, out, 0) : 0;
  }

  private collect(node: number, atMs: number, out: number[], count: number): number {
    if (node >= this.leaves) {
      // The padding past the last slot holds Infinity, which a bound of Infinity would take in.
      if (node - this.leaves >= this.size) return count;
      out[count] = node - this.leaves;
      return count + 1;
    }
    const l = 2 * node;
    if (this.dueFrom[l] <= atMs) count = this.collect(l, atMs, out, count);
    if (this.dueFrom[l + 1] <= atMs) count = this.collect(l + 1, atMs, out, count);
    return count;
  }
}
