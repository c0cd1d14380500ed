import type { Clock, Timer } from '../../core/clock.js';
import type { Millis } from '../../core/types.js';

/**
 * Request deadlines on the Clock (the dispatcher's upstream and total timeouts), one queue per
 * timeout: the live dispatcher and the simulator both keep theirs here, so a timeout fires at the
 * same model instant in either mode.
 *
 * Every deadline of a queue is `timeoutMs` after it was added and the clock never goes back, so
 * deadlines come due in the order they were added: a FIFO is the whole data structure, with one
 * timer for the queue instead of one per request, armed only for a deadline that still waits.
 * Adding is amortised O(1) and allocates nothing per request (a ring of parallel arrays); a
 * deadline is never removed when its request finishes first: the owner is asked, when the deadline
 * is reached, when the timer is about to be armed for it, or when a full ring is swept, whether
 * that generation of it still waits, and an owner reused for another request (the simulator's) has
 * moved to another generation. When it is asked does not matter, because an owner that stopped
 * waiting on a generation never waits on it again; so the timer fires at the same instants
 * whichever finished deadlines are still held.
 *
 * One timer callback ends at most EXPIRIES_PER_TURN deadlines; the rest due are left to a timer
 * armed for now, which on the live clock runs after the event loop has polled for I/O, as
 * HAProxy's scheduler runs at most `tune.runqueue-depth` tasks between polls. Deadlines come due
 * together when their requests came together (550 slow uploads opened at once all end 408 at
 * once): each ending of a streamed upload costs about a millisecond (its upstream connection is
 * closed, its 408 written), and ending all of them in one turn held every other request for half a
 * second (RELIABILITY.md, "Shutdown and slow clients"). On the virtual clock the rest run at the
 * same instant, so the simulator's timeouts are unchanged.
 */
export interface DeadlineOwner {
  /** Is this owner still waiting on the deadline it added as `generation`? Once false, false for good. */
  awaits(queue: DeadlineQueue, generation: number): boolean;
  /** The deadline it added as `generation` has passed (and it still awaited it). */
  deadlinePassed(queue: DeadlineQueue, generation: number): void;
}

/**
 * The ring's first capacity: below it, finished deadlines are never swept (a power of two). Small,
 * because a finished deadline keeps its owner alive until it is swept, and a live owner is a
 * request's exchange with everything it reached: at 1,024 a proxy at 20,000 req/s held about 50 ms
 * of finished requests, so V8's young-generation collections (every ~80 ms) copied them and
 * promoted many to the old generation, which grew 8-9 MB a second between full collections (peak
 * RSS 190 MB at 1,000 connections; at 64: flat, 128 MB, and each collection 0.9 ms against 3.5).
 * A sweep asks each held owner one question, so a smaller ring costs about one more call per add.
 */
export const INITIAL_CAPACITY = 64;

/** Deadlines ended in one timer callback at most, so I/O runs between batches of a burst (about 16 ms each at ~1 ms an upload). */
export const EXPIRIES_PER_TURN = 16;

export class DeadlineQueue {
  // A ring buffer of the deadlines in the order added: `count` entries from `head`, the capacity a
  // power of two. Typed arrays and a fixed capacity: adding writes three slots and allocates
  // nothing, where arrays truncated by every sweep and regrown by push reallocated and copied.
  private owners: Array<DeadlineOwner | undefined>;
  private generations: Float64Array;
  private dueAtMs: Float64Array;
  private mask: number;
  private head = 0;
  private count = 0;
  private readonly timer: Timer;
  private armed = false;

  constructor(
    private readonly clock: Clock,
    readonly timeoutMs: Millis,
  ) {
    this.timer = clock.timer(() => this.expire());
    this.owners = new Array<DeadlineOwner | undefined>(INITIAL_CAPACITY).fill(undefined);
    this.generations = new Float64Array(INITIAL_CAPACITY);
    this.dueAtMs = new Float64Array(INITIAL_CAPACITY);
    this.mask = INITIAL_CAPACITY - 1;
  }

  /** Deadlines not yet reached (finished requests' included, until they are dropped or swept out). */
  get size(): number {
    return this.count;
  }

  /**
   * `owner`'s deadline, `timeoutMs` from now, as its generation `generation`. While the timer is
   * armed, finished deadlines are left where they are (the timer or a sweep drops them): asking the
   * oldest owner on every add, as the queue once did, was an owner call per deadline for nothing.
   */
  add(owner: DeadlineOwner, generation: number): void {
    // Before arming, the finished ones at the head go, so the timer is armed for a deadline that waits.
    if (!this.armed) this.dropSpentHead();
    if (this.count > this.mask) this.makeRoom();
    const slot = (this.head + this.count) & this.mask;
    this.owners[slot] = owner;
    this.generations[slot] = generation;
    this.dueAtMs[slot] = this.clock.now() + this.timeoutMs;
    this.count++;
    if (!this.armed) this.arm();
  }

  /** Forget every deadline (the dispatcher is closing). */
  clear(): void {
    this.owners.fill(undefined);
    this.head = this.count = 0;
    this.timer.clear();
    this.armed = false;
  }

  private expire(): void {
    this.armed = false;
    const now = this.clock.now();
    let ended = 0;
    // Fields are read afresh on each turn: deadlinePassed may add to this queue, which may sweep or grow it.
    while (this.count > 0 && this.dueAtMs[this.head] <= now && ended < EXPIRIES_PER_TURN) {
      const generation = this.generations[this.head];
      const owner = this.takeHead();
      if (!owner.awaits(this, generation)) continue;
      owner.deadlinePassed(this, generation);
      ended++;
    }
    this.dropSpentHead();
    if (this.count > 0 && !this.armed) this.arm();
  }

  /** Remove the oldest deadline; returns its owner. */
  private takeHead(): DeadlineOwner {
    const head = this.head;
    const owner = this.owners[head] as DeadlineOwner;
    this.owners[head] = undefined;
    this.head = (head + 1) & this.mask;
    this.count--;
    return owner;
  }

  /** Drop the finished deadlines at the head, so the oldest left still waits. */
  private dropSpentHead(): void {
    while (this.count > 0 && !(this.owners[this.head] as DeadlineOwner).awaits(this, this.generations[this.head])) this.takeHead();
  }

  /**
   * The ring is full: keep only the deadlines that still wait, in order, and double the capacity if
   * they fill more than half of it. O(capacity), after at least capacity / 2 adds: amortised O(1),
   * and the ring never holds more than twice what waits (or INITIAL_CAPACITY). Without sweeping,
   * one slow request would hold every deadline added after it until it ends or times out (on a
   * simulated heavy-tailed workload, millions of them: issue 19).
   */
  private makeRoom(): void {
    const { owners, generations, dueAtMs, mask, head } = this;
    let kept = 0;
    for (let k = 0; k < this.count; k++) {
      const from = (head + k) & mask;
      const owner = owners[from] as DeadlineOwner;
      owners[from] = undefined;
      if (!owner.awaits(this, generations[from])) continue;
      // Written at or behind where it was read, in ring order: nothing unread is overwritten.
      const to = (head + kept++) & mask;
      owners[to] = owner;
      generations[to] = generations[from];
      dueAtMs[to] = dueAtMs[from];
    }
    this.count = kept;
    if (2 * kept > mask + 1) this.grow();
  }

  /** Twice the capacity, the entries moved to its start in order. */
  private grow(): void {
    const capacity = 2 * (this.mask + 1);
    const owners = new Array<DeadlineOwner | undefined>(capacity).fill(undefined);
    const generations = new Float64Array(capacity);
    const dueAtMs = new Float64Array(capacity);
    for (let k = 0; k < this.count; k++) {
      const from = (this.head + k) & this.mask;
      owners[k] = this.owners[from];
      generations[k] = this.generations[from];
      dueAtMs[k] = this.dueAtMs[from];
    }
    this.owners = owners;
    this.generations = generations;
    this.dueAtMs = dueAtMs;
    this.mask = capacity - 1;
    this.head = 0;
  }

  private arm(): void {
    this.armed = true;
    this.timer.set(this.dueAtMs[this.head] - this.clock.now());
  }
}
