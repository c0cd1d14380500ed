import type { Cancel, Clock } from '../../core/clock.js';
import type { Millis } from '../../core/types.js';

export interface Interval {
  readonly at: Millis;
  readonly for: Millis;
}

/**
 * Schedule the begin and end of each interval (relative to now) up front, begin before end, so with
 * the clock's same-time tie-break a zero-length interval still begins before it ends. Callers count
 * nesting depth, so overlapping intervals compose. Returns one Cancel for all of them.
 */
export function scheduleIntervals<T extends Interval>(
  clock: Clock,
  intervals: readonly T[],
  onBegin: (interval: T) => void,
  onEnd: (interval: T) => void,
): Cancel {
  const cancels: Cancel[] = [];
  for (const interval of intervals) {
    cancels.push(clock.schedule(interval.at, () => onBegin(interval)));
    cancels.push(clock.schedule(interval.at + interval.for, () => onEnd(interval)));
  }
  return () => {
    for (const cancel of cancels) cancel();
  };
}
