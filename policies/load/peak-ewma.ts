import { z } from 'zod';
import type { BackendId, Millis } from '../../core/types.js';
import type { BackendView, Outcome } from '../policy.js';
import { forgetRemoved, type LoadMetric } from './load-metric.js';

/**
 * Peak EWMA, Finagle's load metric (com.twitter.finagle.loadbalancer.PeakEwma; also tower's
 * `PeakEwma` and Linkerd's default): cost = ewmaRttMs * (inFlight + 1).
 *
 * - Lazily decayed on read, as tower does: between samples the estimate read at `now` is
 *   ewma * exp(-(now - sampledAt) / decayMs), so a backend that has been avoided for a while looks
 *   cheaper again and gets probed.
 * - Peak-sensitive: a latency sample above the current (decayed) estimate replaces it at once, so a
 *   backend that just turned slow loses traffic immediately; a sample below blends in with weight
 *   w = exp(-elapsedMs / decayMs) on the current estimate (elapsed = time since the last sample).
 * - Reads never change the state. Finagle and tower fold the read decay into the stored value, so
 *   their estimate depends on how often picks happen; here it depends only on the samples and
 *   their times, and reads and samples agree on one curve.
 * - A backend starts at `defaultRttMs` (a guess, replaced outright by its first sample). Until its
 *   first response it costs a large penalty whenever it already has requests in flight (Finagle's
 *   Penalty): one probe at a time until its latency is known.
 * - A failed request never makes a backend look faster than it was: its sample is at least the
 *   current estimate (a fast-failing backend would otherwise attract traffic).
 * Timestamps come in as arguments; no clock, no timers. Cost O(1) per read and per sample.
 */

/** The options of the estimator, shared by every policy that can use it. */
export const peakEwmaOptions = {
  decayMs: z.number().positive().default(10_000).describe('peak-ewma: decay time constant of the latency average'),
  defaultRttMs: z.number().positive().default(100).describe('peak-ewma: the latency assumed for a backend before its first response'),
};

/** Larger than any real cost, and still ordered by in-flight count among penalised backends. */
const UNSAMPLED_PENALTY = 1e12;

interface RttEstimate {
  ewmaMs: number;
  sampledAtMs: Millis;
  sampled: boolean;
}

export interface PeakEwmaOptions {
  readonly decayMs: Millis;
  readonly defaultRttMs: Millis;
}

export class PeakEwmaMetric implements LoadMetric {
  readonly name = 'peak-ewma';
  private readonly estimates = new Map<BackendId, RttEstimate>();

  constructor(private readonly options: PeakEwmaOptions) {}

  /** The latency estimate of a backend at `now` (its default before it was ever used). */
  rttMs(id: BackendId, now: Millis): number {
    const e = this.estimates.get(id);
    if (!e) return this.options.defaultRttMs;
    return e.ewmaMs * Math.exp(-Math.max(0, now - e.sampledAtMs) / this.options.decayMs);
  }

  cost(b: BackendView, now: Millis): number {
    const e = this.estimates.get(b.id);
    if (e && !e.sampled && b.inFlight > 0) return UNSAMPLED_PENALTY + b.inFlight;
    return this.rttMs(b.id, now) * (b.inFlight + 1);
  }

  onDispatch(id: BackendId, now: Millis): void {
    if (!this.estimates.has(id)) {
      this.estimates.set(id, { ewmaMs: this.options.defaultRttMs, sampledAtMs: now, sampled: false });
    }
  }

  onComplete(id: BackendId, outcome: Outcome, now: Millis): void {
    // No entry: the backend was removed while this request was in flight; do not bring it back.
    const e = this.estimates.get(id);
    if (!e) return;
    const currentMs = this.rttMs(id, now);
    const sampleMs = outcome.ok ? outcome.latencyMs : Math.max(outcome.latencyMs, currentMs);
    if (!e.sampled || sampleMs > currentMs) {
      e.ewmaMs = sampleMs;
    } else {
      const w = Math.exp(-Math.max(0, now - e.sampledAtMs) / this.options.decayMs);
      e.ewmaMs = currentMs * w + sampleMs * (1 - w);
    }
    e.sampledAtMs = now;
    e.sampled = true;
  }

  onMembershipChange(backends: readonly BackendView[]): void {
    forgetRemoved(this.estimates, backends);
  }

  trackedIds(): BackendId[] {
    return [...this.estimates.keys()];
  }
}

export function createPeakEwmaMetric(options: PeakEwmaOptions): PeakEwmaMetric {
  return new PeakEwmaMetric(options);
}
