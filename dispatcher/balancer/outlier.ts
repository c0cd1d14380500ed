import type { Millis } from '../../core/types.js';
import type { AttemptOutcome } from './types.js';

/**
 * Passive outlier ejection, after Envoy's outlier detection (consecutive_5xx,
 * consecutive_gateway_failure, base_ejection_time, max_ejection_percent): a backend that fails
 * `consecutiveErrors` times in a row is taken out of rotation for a time that grows with the
 * number of times it has been ejected, then put back. The Balancer owns the state; these are the
 * rules it applies.
 */

/** Failures that count against the backend. A client abort is not the backend's fault. */
export function isBackendFailure(outcome: AttemptOutcome): boolean {
  switch (outcome.kind) {
    case 'response':
      return outcome.status >= 500;
    case 'client-abort':
      return false;
    default:
      return true;
  }
}

/**
 * How many of `backendCount` backends may be ejected at once. Floor, so the fraction is a true
 * upper bound (with 3 backends and 0.5, one); and never all of them, so one backend always stays
 * in rotation: ejecting the last one turns a partial outage into a total one.
 */
export function maxEjected(backendCount: number, maxEjectedFraction: number): number {
  return Math.max(0, Math.min(backendCount - 1, Math.floor(backendCount * maxEjectedFraction)));
}

/** The n-th ejection (n >= 1) lasts n times the base, as Envoy's does. */
export function ejectionMs(baseEjectionMs: Millis, ejectionNumber: number): Millis {
  return baseEjectionMs * ejectionNumber;
}
