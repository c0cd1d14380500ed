import { z } from 'zod';
import type { BackendId, Millis } from '../../core/types.js';
import type { BackendView } from '../policy.js';
import { forgetRemoved, type LoadMetric } from './load-metric.js';

/**
 * Reported load: the load the VM itself reports (X-VM-Load on every response, GET /load), which the
 * Balancer stores in `BackendView.reportedLoad`. Server-reported utilisation is what Netflix's Zuul
 * and Envoy's ORCA weighting use; it is stale by nature, and Brooker's "power of two random
 * choices" simulation shows that choosing the best server on stale data herds. To study that, the
 * policy works from its own copy of each backend's reported load, refreshed at most every
 * `refreshMs` (0 = always the latest): staleness is an experiment knob.
 *
 * A backend that has never reported counts as idle (0), like a fresh server in Zuul, so it is tried.
 * Cost O(1) per read; the copy is refreshed inside `cost`, on the first read after it expires.
 */

export const reportedOptions = {
  refreshMs: z
    .number()
    .nonnegative()
    .default(1000)
    .describe('reported: refresh the cached copy of reported loads at most this often (0 = always the latest)'),
};

interface Copy {
  load: number;
  copiedAtMs: Millis;
}

export class ReportedLoadMetric implements LoadMetric {
  readonly name = 'reported';
  private readonly copies = new Map<BackendId, Copy>();

  constructor(private readonly refreshMs: Millis) {}

  cost(b: BackendView, now: Millis): number {
    let copy = this.copies.get(b.id);
    if (!copy || now - copy.copiedAtMs >= this.refreshMs) {
      copy = { load: b.reportedLoad ?? 0, copiedAtMs: now };
      this.copies.set(b.id, copy);
    }
    return copy.load;
  }

  onMembershipChange(backends: readonly BackendView[]): void {
    forgetRemoved(this.copies, backends);
  }

  trackedIds(): BackendId[] {
    return [...this.copies.keys()];
  }
}

export function createReportedMetric(options: { refreshMs: Millis }): ReportedLoadMetric {
  return new ReportedLoadMetric(options.refreshMs);
}
