/**
 * The dispatcher's central FIFO wait queue (HAProxy's backend queue in front of `maxconn`).
 *
 * A ring buffer that grows by doubling, with O(1) push at either end, peek and shift; never
 * Array.shift, which is O(n) on a long queue. A request that leaves early (cancelled by its
 * client, or timed out) is only marked: `remove` clears its `waiting` flag and the live count,
 * and `peek` discards marked entries when they reach the head. So `length` is always the number
 * of requests really waiting, and removal costs O(1) without searching the ring.
 */

/** Anything the queue holds: `waiting` is true exactly while the entry counts as queued. */
export interface Waiting {
  waiting: boolean;
}

export class WaitQueue<T extends Waiting> {
  private ring: (T | undefined)[] = new Array<T | undefined>(16);
  private head = 0;
  /** Slots in use, marked (removed) entries included. */
  private used = 0;
  private live = 0;

  /** Requests really waiting. */
  get length(): number {
    return this.live;
  }

  pushBack(entry: T): void {
    if (this.used === this.ring.length) this.grow();
    this.ring[(this.head + this.used) & (this.ring.length - 1)] = entry;
    this.used++;
    this.admit(entry);
  }

  pushFront(entry: T): void {
    if (this.used === this.ring.length) this.grow();
    this.head = (this.head - 1) & (this.ring.length - 1);
    this.ring[this.head] = entry;
    this.used++;
    this.admit(entry);
  }

  /** The oldest entry still waiting, or undefined. */
  peek(): T | undefined {
    while (this.used > 0) {
      const entry = this.ring[this.head] as T;
      if (entry.waiting) return entry;
      this.dropHead();
    }
    return undefined;
  }

  /** Take the oldest waiting entry out of the queue. */
  shift(): T | undefined {
    const entry = this.peek();
    if (entry === undefined) return undefined;
    this.dropHead();
    entry.waiting = false;
    this.live--;
    return entry;
  }

  /** Leave the queue from anywhere; false if the entry was not waiting (already gone). */
  remove(entry: T): boolean {
    if (!entry.waiting) return false;
    entry.waiting = false;
    this.live--;
    return true;
  }

  private admit(entry: T): void {
    entry.waiting = true;
    this.live++;
  }

  private dropHead(): void {
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) & (this.ring.length - 1);
    this.used--;
  }

  /** Double the ring (its size stays a power of two, so indices wrap with a mask). */
  private grow(): void {
    const old = this.ring;
    const next = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.used; i++) next[i] = old[(this.head + i) & (old.length - 1)];
    this.ring = next;
    this.head = 0;
  }
}
