import type { Millis } from './types.js';

/** Undo a `schedule`; calling it after the callback ran, or twice, is harmless. */
export type Cancel = () => void;

/**
 * The only way model code reads time or waits (DESIGN.md, "Clock"). The live servers pass
 * `systemClock`; the simulator passes a `VirtualClock`, so the same code runs in either.
 */
export interface Clock {
  /** Monotonic milliseconds since an arbitrary origin. */
  now(): Millis;
  /** Run `fn` once, `delayMs` from now (clamped at 0). */
  schedule(delayMs: Millis, fn: () => void): Cancel;
}

/** Wall time: performance.now and setTimeout. Timers are unref'd so they never hold a process open. */
export const systemClock: Clock = {
  now: () => performance.now(),
  schedule(delayMs, fn) {
    // eslint-disable-next-line no-restricted-globals -- the one place real timers are allowed
    const timer = setTimeout(fn, Math.max(0, delayMs));
    timer.unref();
    return () => clearTimeout(timer);
  },
};
