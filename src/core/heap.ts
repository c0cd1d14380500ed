/**
 * A binary min-heap of items ordered by (key, seq): the smaller key first, and among equal keys the
 * smaller sequence number, so simultaneous entries come out in insertion order. Used by the
 * VirtualClock's event queue (key = due time) and by each VM's jobs (key = finish tag), on every
 * simulated event, so it is written for speed: keys and sequence numbers sit in their own number
 * arrays beside the items and are compared inline. (A comparator callback, shared by both users,
 * was a polymorphic call V8 would not inline: about 10% of a simulation's time, profiled.)
 */
export class MinHeap<T> {
  private readonly items: T[] = [];
  private readonly keys: number[] = [];
  private readonly seqs: number[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T, key: number, seq: number): void {
    const { items, keys, seqs } = this;
    let i = items.length;
    items.push(item);
    keys.push(key);
    seqs.push(seq);
    while (i > 0) {
      const parent = (i - 1) >> 1;
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
    const { items, keys, seqs } = this;
    const top = items[0];
    const last = items.pop();
    const lastKey = keys.pop() as number;
    const lastSeq = seqs.pop() as number;
    const n = items.length;
    if (n === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && (keys[right] < keys[left] || (keys[right] === keys[left] && seqs[right] < seqs[left]))) child = right;
      const ck = keys[child];
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

  clear(): void {
    this.items.length = 0;
    this.keys.length = 0;
    this.seqs.length = 0;
  }
}
