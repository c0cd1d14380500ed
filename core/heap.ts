/**
 * A min-heap of items ordered by (key, seq): the smaller key first, and among equal keys the
 * smaller sequence number, so simultaneous entries come out in insertion order. Used by the
 * VirtualClock's event queue (key = due time), on every simulated event, so it is written for
 * speed (a VM's few jobs have a heap of their own, in vm-state.ts, keyed on the jobs' fields):
 * - four children per node (a 4-ary heap, Johnson 1975), not two: a pop sifts down half as many
 *   levels, and a node's children are adjacent in the arrays, so on the clock's heap of a large
 *   fleet (tens of thousands of events) it touches about half the cache lines. Every user pushes
 *   unique (key, seq) pairs, so the order items come out in is the same as any heap's;
 * - keys and sequence numbers sit in their own number arrays beside the items and are compared
 *   inline: a comparator callback shared by its users would be a polymorphic call, which V8
 *   does not inline, and an event's due time is the heap entry's, not the event's (a re-armed
 *   event leaves a stale entry with its old time behind);
 * - the arrays never shrink: the heap keeps its own count and writes slots by index instead of
 *   Array push/pop, so a heap going from empty to a few entries and back never has its storage
 *   trimmed and regrown. A popped item's slot is cleared so the heap does not
 *   keep it alive.
 */
export class MinHeap<T> {
  private readonly items: Array<T | undefined> = [];
  private readonly keys: number[] = [];
  private readonly seqs: number[] = [];
  private n = 0;

  get size(): number {
    return this.n;
  }

  peek(): T | undefined {
    return this.n > 0 ? this.items[0] : undefined;
  }

  /** The key and sequence number the top item was pushed with (meaningless when empty). */
  get topKey(): number {
    return this.keys[0];
  }

  get topSeq(): number {
    return this.seqs[0];
  }

  push(item: T, key: number, seq: number): void {
    const { items, keys, seqs } = this;
    let i = this.n++;
    while (i > 0) {
      const parent = (i - 1) >> 2;
      const pk = keys[parent];
      if (key > pk || (key === pk && seq >= seqs[parent])) break;
      items[i] = items[parent];
      keys[i] = pk;
      seqs[i] = seqs[parent];
      i = parent;
    }
    items[i] = item;
    keys[i] = key;
    seqs[i] = seq;
  }

  pop(): T | undefined {
    if (this.n === 0) return undefined;
    const { items, keys, seqs } = this;
    const top = items[0];
    const n = --this.n;
    const last = items[n];
    const lastKey = keys[n];
    const lastSeq = seqs[n];
    items[n] = undefined;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      const first = 4 * i + 1;
      if (first >= n) break;
      // The smallest of up to four children.
      const end = first + 4 < n ? first + 4 : n;
      let child = first;
      let ck = keys[first];
      for (let c = first + 1; c < end; c++) {
        const k = keys[c];
        if (k < ck || (k === ck && seqs[c] < seqs[child])) {
          child = c;
          ck = k;
        }
      }
      if (ck > lastKey || (ck === lastKey && seqs[child] >= lastSeq)) break;
      items[i] = items[child];
      keys[i] = ck;
      seqs[i] = seqs[child];
      i = child;
    }
    items[i] = last;
    keys[i] = lastKey;
    seqs[i] = lastSeq;
    return top;
  }
}
