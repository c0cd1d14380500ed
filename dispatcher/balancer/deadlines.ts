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
 * Adding is amortised O(1) and allocates nothing per request (parallel arrays); a deadline is
 * never removed when its request finishes first: the owner is asked, when the deadline is reached
 * (or when it is the oldest and a new one is added), whether that generation of it still waits,
 * and an owner reused for another request (the simulator's) has moved to another generation.
 * Finished deadlines behind a waiting one are swept out whenever the arrays have doubled since
 * the last sweep: otherwise one slow request holds every deadline added after it until it ends or
 * times out (on a simulated heavy-tailed workload, millions of them: issue 19).
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
  /** Is this owner still waiting on the deadline it added as `generation`? */
  awaits(queue: DeadlineQueue, generation: number): boolean;
  /** The deadline it added as `generation` has passed (and it still awaited it). */
  deadlinePassed(queue: DeadlineQueue, generation: number): void;
}

/** Compact the arrays once this many entries at their head are spent; sweep them from this length on. */
const COMPACT_AT = 1024;

/** Deadlines ended in one timer callback at most, so I/O runs between batches of a burst (about 16 ms each at ~1 ms an upload). */
export const EXPIRIES_PER_TURN = 16;

export class DeadlineQueue {
  private owners: Array<DeadlineOwner | undefined> = [];
  private generations: number[] = [];
  private dueAtMs: number[] = [];
  private head = 0;
  /** Sweep finished deadlines out once the arrays reach this length (twice what the last sweep kept). */
  private sweepAt = COMPACT_AT;
  private readonly timer: Timer;
  private armed = false;

  constructor(
    private readonly clock: Clock,
    readonly timeoutMs: Millis,
  ) {
    this.timer = clock.timer(() => this.expire());
  }

  /** Deadlines not yet reached (finished requests' included, until they reach the head). */
  get size(): number {
    return this.owners.length - this.head;
  }

  /** `owner`'s deadline, `timeoutMs` from now, as its generation `generation`. */
  add(owner: DeadlineOwner, generation: number): void {
    this.dropSpentHead();
    if (this.owners.length >= this.sweepAt) this.sweep();
    this.owners.push(owner);
    this.generations.push(generation);
    this.dueAtMs.push(this.clock.now() + this.timeoutMs);
    if (!this.armed) this.arm();
  }

  /** Forget every deadline (the dispatcher is closing). */
  clear(): void {
    this.owners = [];
    this.generations = [];
    this.dueAtMs = [];
    this.head = 0;
    this.timer.clear();
    this.armed = false;
  }

  private expire(): void {
    this.armed = false;
    const now = this.clock.now();
    let ended = 0;
    while (this.head < this.owners.length && this.dueAtMs[this.head] <= now && ended < EXPIRIES_PER_TURN) {
      const owner = this.owners[this.head] as DeadlineOwner;
      const generation = this.generations[this.head];
      this.owners[this.head++] = undefined;
      if (!owner.awaits(this, generation)) continue;
      owner.deadlinePassed(this, generation);
      ended++;
    }
    this.dropSpentHead();
    if (this.size > 0 && !this.armed) this.arm();
  }

  /** Finished requests at the head need no timer: drop them as new deadlines come in. */
  private dropSpentHead(): void {
    while (this.head < this.owners.length) {
      const owner = this.owners[this.head] as DeadlineOwner;
      if (owner.awaits(this, this.generations[this.head])) break;
      this.owners[this.head++] = undefined;
    }
    this.compact();
  }

  private compact(): void {
    if (this.head === this.owners.length) {
      // Every deadline is spent: empty the arrays in place (no new ones per request). A timer still
      // armed fires, finds nothing due and re-arms for whatever was added since.
      if (this.head > 0) this.owners.length = this.generations.length = this.dueAtMs.length = this.head = 0;
      return;
    }
    if (this.head < COMPACT_AT || this.head * 2 < this.owners.length) return;
    this.owners = this.owners.slice(this.head);
    this.generations = this.generations.slice(this.head);
    this.dueAtMs = this.dueAtMs.slice(this.head);
    this.head = 0;
  }

  /** Keep only the deadlines that still wait, in order: O(entries), once per doubling. */
  private sweep(): void {
    const { owners, generations, dueAtMs } = this;
    let kept = 0;
    for (let i = this.head; i < owners.length; i++) {
      const owner = owners[i] as DeadlineOwner;
      if (!owner.awaits(this, generations[i])) continue;
      owners[kept] = owner;
      generations[kept] = generations[i];
      dueAtMs[kept++] = dueAtMs[i];
    }
    owners.length = generations.length = dueAtMs.length = kept;
    this.head = 0;
    this.sweepAt = Math.max(COMPACT_AT, 2 * kept);
  }

  private arm(): void {
    this.armed = true;
    this.timer.set(this.dueAtMs[this.head] - this.clock.now());
  }
}
