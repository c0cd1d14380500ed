import type { Cancel, Clock, Timer } from './clock.js';
import { MinHeap } from './heap.js';
import type { Millis } from './types.js';

/**
 * A callback in the event heap: a one-shot `schedule` or a reusable `timer`. It is armed under the
 * sequence number of its newest heap entry; an entry whose number no longer matches (cancelled, or
 * re-armed since) is stale and skipped when popped, so re-arming never searches the heap.
 */
class ClockEvent implements Timer {
  /** Sequence number of the live heap entry; -1 when not armed. */
  seq = -1;

  constructor(
    private readonly clock: VirtualClock,
    readonly fn: () => void,
  ) {}

  set(delayMs: Millis): void {
    this.clock.arm(this, delayMs);
  }

  clear(): void {
    this.seq = -1;
  }
}

/**
 * An event armed this far ahead or more goes to the far heap. Health checks (every backend's next
 * probe, 1 s ahead, and its 500 ms probe timeout) are most of a large fleet's pending events; the
 * events a request makes (a host's next completion) are due within milliseconds. Any value gives
 * the same order of events; this one keeps the near heap to what requests touch.
 */
const FAR_MS = 250;

/**
 * Virtual time as a heap of (at, seq, callback), after SimPy's Environment: time jumps from one
 * event to the next, and events at the same instant run in the order they were scheduled (or last
 * re-armed). Cancelled events stay in the heap and are skipped when popped (cheaper than removal).
 *
 * Two heaps, merged on (at, seq) when stepping: events armed less than FAR_MS ahead and the rest.
 * At 10,000 VMs the health checks' ~20,000 entries would otherwise make every host timer's push
 * and pop walk a heap of ~20,700 entries (about seven levels of a 4-ary heap, the lower ones out of
 * cache) instead of ~700. Sequence numbers are unique, so the merge runs events in exactly the
 * order one heap would.
 */
export class VirtualClock implements Clock {
  private nowMs: Millis;
  private seq = 0;
  private readonly events = new MinHeap<ClockEvent>();
  private readonly farEvents = new MinHeap<ClockEvent>();
  private executed = 0;

  constructor(startMs: Millis = 0) {
    this.nowMs = startMs;
  }

  now(): Millis {
    return this.nowMs;
  }

  schedule(delayMs: Millis, fn: () => void): Cancel {
    const event = new ClockEvent(this, fn);
    this.arm(event, delayMs);
    return () => event.clear();
  }

  timer(fn: () => void): Timer {
    return new ClockEvent(this, fn);
  }

  /** (Re)arm an event `delayMs` from now; an entry it already has goes stale. */
  arm(event: ClockEvent, delayMs: Millis): void {
    event.seq = this.seq++;
    const heap = delayMs < FAR_MS ? this.events : this.farEvents;
    heap.push(event, this.nowMs + Math.max(0, delayMs), event.seq);
  }

  /** Events still queued, cancelled ones included. */
  get pending(): number {
    return this.events.size + this.farEvents.size;
  }

  /** The heap whose top comes first by (at, seq); undefined when both are empty. */
  private nextHeap(): MinHeap<ClockEvent> | undefined {
    const near = this.events;
    const far = this.farEvents;
    if (far.size === 0) return near.size === 0 ? undefined : near;
    if (near.size === 0) return far;
    const nearKey = near.topKey;
    const farKey = far.topKey;
    return farKey < nearKey || (farKey === nearKey && far.topSeq < near.topSeq) ? far : near;
  }

  /** Events run so far. */
  get eventsRun(): number {
    return this.executed;
  }

  /**
   * Run the next live event, advancing time to it, if it is due at or before `untilMs` (default:
   * any). Returns false when no such event is left.
   */
  step(untilMs: Millis = Infinity): boolean {
    for (;;) {
      const events = this.nextHeap();
      if (events === undefined) return false;
      const event = events.peek() as ClockEvent;
      const atMs = events.topKey;
      if (atMs > untilMs) return false;
      const live = events.topSeq === event.seq;
      events.pop();
      if (!live) continue;
      event.seq = -1;
      this.nowMs = atMs;
      this.executed++;
      event.fn();
      return true;
    }
  }

  /** Run every event due at or before `untilMs`, then set the time to `untilMs`. */
  runUntil(untilMs: Millis): void {
    for (;;) {
      const events = this.nextHeap();
      if (events === undefined || events.topKey > untilMs) break;
      // Discard a stale head here: step() would skip it and run the next live event even if
      // that one is due after untilMs.
      if (events.topSeq !== (events.peek() as ClockEvent).seq) events.pop();
      else this.step();
    }
    if (untilMs > this.nowMs) this.nowMs = untilMs;
  }

  /** Advance by `deltaMs`, running everything due on the way. */
  advance(deltaMs: Millis): void {
    this.runUntil(this.nowMs + deltaMs);
  }

  /** Run until no event is left, or fail loudly after `maxEvents` (a model that never settles). */
  runUntilIdle(maxEvents = 1e9): void {
    let n = 0;
    while (this.step()) {
      if (++n > maxEvents) throw new Error(`VirtualClock: still busy after ${maxEvents} events`);
    }
  }
}
