import type { Clock } from '../../core/clock.js';
import type { DispatcherSettings } from '../../core/scenario.js';
import type { BackendId, Millis } from '../../core/types.js';
import type { BackendRecord } from './backend.js';
import type { Membership } from './membership.js';
import type { AttemptOutcome } from './types.js';

/**
 * Passive outlier ejection, after Envoy's outlier detection (consecutive_5xx,
 * consecutive_gateway_failure, base_ejection_time, max_ejection_percent): a backend that fails
 * `consecutiveErrors` times in a row is taken out of rotation for a time that grows with the
 * number of times it has been ejected, then put back. The records hold the state (membership.ts);
 * the rules and the detector that applies them live here.
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

export type OutlierSettings = DispatcherSettings['outlier'];

/** Applies the rules above to the Balancer's backends: counts failures, ejects, puts back. */
export class OutlierDetector {
  /** Backends ejected now, and ejections ever. */
  ejectedCount = 0;
  ejections = 0;

  constructor(
    private readonly clock: Clock,
    private readonly settings: OutlierSettings,
    private readonly members: Membership,
    private readonly onEjection: (id: BackendId) => void,
  ) {}

  /** An attempt on `rec` ended; client aborts and removed backends are not the caller's to pass. */
  record(rec: BackendRecord, failed: boolean): void {
    if (!failed) {
      rec.consecutiveFailures = 0;
      return;
    }
    rec.errors++;
    rec.consecutiveFailures++;
    const settings = this.settings;
    // Never the last healthy backend either: with the others down or draining, ejecting it would
    // turn a partial outage into a total one.
    if (
      rec.state === 'healthy' &&
      rec.consecutiveFailures >= settings.consecutiveErrors &&
      this.members.healthyCount > 1 &&
      this.ejectedCount < maxEjected(this.members.size, settings.maxEjectedFraction)
    ) {
      this.eject(rec);
    }
  }

  /** Stop counting `rec` as ejected and cancel its timer; the caller re-derives its state. */
  end(rec: BackendRecord): void {
    rec.cancelEjection?.();
    rec.cancelEjection = undefined;
    rec.ejectedUntil = undefined;
    this.ejectedCount--;
  }

  private eject(rec: BackendRecord): void {
    rec.ejections++;
    this.ejections++;
    this.ejectedCount++;
    rec.consecutiveFailures = 0;
    const durationMs = ejectionMs(this.settings.baseEjectionMs, rec.ejections);
    rec.ejectedUntil = this.clock.now() + durationMs;
    rec.cancelEjection = this.clock.schedule(durationMs, () => {
      this.end(rec);
      this.members.refresh(rec);
    });
    this.onEjection(rec.id);
    this.members.refresh(rec);
  }
}
