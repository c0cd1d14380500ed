import { MAX_DURATION_MS } from './limits.js';
import type { Millis } from './types.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parse a scenario or CLI duration: a number of milliseconds, or a string such as `500ms`, `30s`,
 * `2m`, `1.5h`, at most MAX_DURATION_MS (a week). Returns undefined when the text is not such a
 * duration, so callers can say why.
 */
export function parseDuration(value: number | string): Millis | undefined {
  let ms: number;
  if (typeof value === 'number') ms = value;
  else {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
    if (!match) return undefined;
    ms = Number(match[1]) * UNIT_MS[match[2] ?? 'ms'];
  }
  return ms >= 0 && ms <= MAX_DURATION_MS ? ms : undefined;
}

const DAY_MS = 86_400_000;
const FORMAT = 'expected milliseconds or a number with a unit (ms, s, m, h), such as 500ms, 30s, 2m';

/**
 * What is wrong with `value` as a duration, in words for a message: not a duration at all, a
 * negative one, or one longer than MAX_DURATION_MS. Undefined when parseDuration takes it.
 */
export function durationProblem(value: unknown): string | undefined {
  if (typeof value === 'number' || typeof value === 'string') {
    if (parseDuration(value) !== undefined) return undefined;
    // parseDuration's format with a minus sign, so that "-1s" is called negative, not unreadable.
    const match = typeof value === 'string' ? /^\s*(-?)\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value) : null;
    if (typeof value === 'string' && !match) return FORMAT;
    const negative = match ? match[1] === '-' : (value as number) < 0;
    const ms = match ? Number(match[2]) * UNIT_MS[match[3] ?? 'ms'] : Math.abs(value as number);
    if (negative) return 'a duration cannot be negative';
    if (ms > MAX_DURATION_MS) return `expected a duration of at most ${MAX_DURATION_MS / DAY_MS} days`;
  }
  return FORMAT;
}

/** Human text for a duration, for messages and tables. */
export function formatDuration(ms: Millis): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000) return `${+(ms / 1000).toFixed(3)}s`;
  return `${+ms.toFixed(3)}ms`;
}
