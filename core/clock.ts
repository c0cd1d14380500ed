import type { Millis } from './types.js';

/** Undo a `schedule`; calling it after the callback ran, or twice, is harmless. */
export type Cancel = () => void;

/**
 * One callback that is armed again and again, each arming replacing the last: what a model keeps
 * when it always has exactly one wake-up pending (a hypervisor host's next completion). The same
 * as cancelling and scheduling anew, without a new event and closure each time.
 */
export interface Timer {
  /** Run the callback once, `delayMs` from now (clamped at 0), instead of when it was set for. */
  set(delayMs: Millis): void;
  /** Disarm; harmless when not armed. */
  clear(): void;
}

/**
 * The only way model code reads time or waits (docs/model.md, "How it runs"). The live servers pass
 * `systemClock`; the simulator passes a `VirtualClock`, so the same code runs in either.
 */
export interface Clock {
  /** Monotonic milliseconds since an arbitrary origin. */
  now(): Millis;
  /** Run `fn` once, `delayMs` from now (clamped at 0). */
  schedule(delayMs: Millis, fn: () => void): Cancel;
  /** A reusable timer for `fn`, not armed. */
  timer(fn: () => void): Timer;
}

/** A Timer made of schedule() and its Cancel, for clocks where re-arming has no cheaper way. */
export function scheduledTimer(clock: Pick<Clock, 'schedule'>, fn: () => void): Timer {
  let cancel: Cancel | undefined;
  const fire = (): void => {
    cancel = undefined;
    fn();
  };
  return {
    set(delayMs) {
      cancel?.();
      cancel = clock.schedule(delayMs, fire);
    },
    clear() {
      cancel?.();
      cancel = undefined;
    },
  };
}

/**
 * Wall time: performance.now and setTimeout. Node's timers count whole milliseconds from the loop's
 * cached time, so one may fire before performance.now() reaches its due time: by a fraction of a
 * millisecond as a rule, by more when the loop's time was stale. A timer a whole millisecond or
 * more early is re-armed for the rest; one less than that early runs, since re-arming costs a
 * whole tick (it would run ~1 ms late instead). Callbacks that must not act early settle on their
 * own due time (the hypervisor host does: HostDeps.onTimerLateness). Timers are unref'd so they
 * never hold a process open.
 */
const EARLY_TOLERANCE_MS = 1;

export const systemClock: Clock = {
  now: () => performance.now(),
  schedule(delayMs, fn) {
    const dueMs = performance.now() + Math.max(0, delayMs);
    let timer: NodeJS.Timeout;
    const arm = (waitMs: number): void => {
      // eslint-disable-next-line no-restricted-globals -- the one place real timers are allowed
      timer = setTimeout(fire, waitMs);
      timer.unref();
    };
    const fire = (): void => {
      const leftMs = dueMs - performance.now();
      if (leftMs >= EARLY_TOLERANCE_MS) arm(leftMs);
      else fn();
    };
    arm(Math.max(0, delayMs));
    return () => clearTimeout(timer);
  },
  timer(fn) {
    return scheduledTimer(systemClock, fn);
  },
};
