import { MAX_DURATION_MS } from './limits.js';
import type { Millis } from './types.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parse a scenario or CLI duration: a number of milliseconds, or a string such as `500ms`, `30s`,
 * `2m`, `1.5h`, at most MAX_DURATION_MS (a week). Returns undefined when the text is not such a
 * duration, so callers can say why.
 */
export function parseDuration(value: number | string): Millis | undefined {
  const read = readDuration(value);
  return read !== undefined && !read.negative && read.ms <= MAX_DURATION_MS ? read.ms : undefined;
}

/** A duration's form read, with its sign apart, so that "-1s" can be called negative rather than unreadable. */
function readDuration(value: number | string): { negative: boolean; ms: number } | undefined {
  if (typeof value === 'number') return Number.isNaN(value) ? undefined : { negative: value < 0, ms: Math.abs(value) };
  const match = /^\s*(-?)\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  return match === null ? undefined : { negative: match[1] === '-', ms: Number(match[2]) * UNIT_MS[match[3] ?? 'ms'] };
}

const DAY_MS = 86_400_000;
const FORMAT = 'expected milliseconds or a number with a unit (ms, s, m, h), such as 500ms, 30s, 2m';

/**
 * What is wrong with `value` as a duration, in words for a message: not a duration at all, a
 * negative one, or one longer than MAX_DURATION_MS. Undefined when parseDuration takes it.
 */
export function durationProblem(value: unknown): string | undefined {
  const read = typeof value === 'number' || typeof value === 'string' ? readDuration(value) : undefined;
  if (read === undefined) return FORMAT;
  if (read.negative) return 'a duration cannot be negative';
  if (read.ms > MAX_DURATION_MS) return `expected a duration of at most ${MAX_DURATION_MS / DAY_MS} days`;
  return undefined;
}

/** Human text for a duration, for messages and tables. */
export function formatDuration(ms: Millis): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000) return `${+(ms / 1000).toFixed(3)}s`;
  return `${+ms.toFixed(3)}ms`;
}
