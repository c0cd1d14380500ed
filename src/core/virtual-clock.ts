import type { Cancel, Clock } from './clock.js';
import { MinHeap } from './heap.js';
import type { Millis } from './types.js';

interface TimerEvent {
  readonly at: Millis;
  /** Insertion order: the tie-break that makes simultaneous events run in a reproducible order. */
  readonly seq: number;
  fn: (() => void) | undefined;
}

/**
 * Virtual time as a heap of (at, seq, fn), after SimPy's Environment: time jumps from one event to
 * the next, and events at the same instant run in the order they were scheduled. Cancelled events
 * stay in the heap with `fn` cleared and are skipped when popped (cheaper than removal).
 */
export class VirtualClock implements Clock {
  private nowMs: Millis;
  private seq = 0;
  private readonly events = new MinHeap<TimerEvent>();
  private executed = 0;

  constructor(startMs: Millis = 0) {
    this.nowMs = startMs;
  }

  now(): Millis {
    return this.nowMs;
  }

  schedule(delayMs: Millis, fn: () => void): Cancel {
    const event: TimerEvent = { at: this.nowMs + Math.max(0, delayMs), seq: this.seq++, fn };
    this.events.push(event, event.at, event.seq);
    return () => {
      event.fn = undefined;
    };
  }

  /** Events still queued, cancelled ones included. */
  get pending(): number {
    return this.events.size;
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
      const event = this.events.peek();
      if (event === undefined || event.at > untilMs) return false;
      this.events.pop();
      const fn = event.fn;
      if (fn === undefined) continue;
      event.fn = undefined;
      this.nowMs = event.at;
      this.executed++;
      fn();
      return true;
    }
  }

  /** Run every event due at or before `untilMs`, then set the time to `untilMs`. */
  runUntil(untilMs: Millis): void {
    for (;;) {
      const next = this.events.peek();
      if (next === undefined || next.at > untilMs) break;
      // Discard a cancelled head here: step() would skip it and run the next live event even if
      // that one is due after untilMs.
      if (next.fn === undefined) this.events.pop();
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
