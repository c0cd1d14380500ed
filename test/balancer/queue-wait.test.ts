import { describe, expect, it } from 'vitest';
import { Balancer } from '../../dispatcher/balancer/balancer.js';
import { VirtualClock } from '../../core/virtual-clock.js';
import type { Millis } from '../../core/types.js';
import { FirstEligible, GET, ids, Results, settings } from './fixtures.js';

/**
 * A virtual clock whose every reading is a microsecond later than the one before, as two
 * readings of the system clock are: what the live dispatcher runs on.
 */
class TickingClock extends VirtualClock {
  private readings = 0;
  override now(): Millis {
    return super.now() + 0.001 * this.readings++;
  }
}

describe('queue wait reported on dispatch', () => {
  it('is exactly 0 for a request dispatched on arrival, and the time in the queue for one that waited', () => {
    const clock = new TickingClock();
    const waits: number[] = [];
    const balancer = new Balancer({
      clock,
      policy: new FirstEligible(),
      settings: settings({ maxConnPerBackend: 1 }),
      backends: ids(1),
      observer: { onDispatch: (_id, queuedMs) => waits.push(queuedMs) },
    });
    const results = new Results();
    balancer.begin(GET, results.for('first'));
    balancer.begin(GET, results.for('queued'));
    expect(waits).toEqual([0]);
    clock.advance(5);
    results.lease('first').end({ kind: 'response', status: 200 });
    expect(waits).toHaveLength(2);
    expect(waits[1]).toBeGreaterThanOrEqual(5);
    expect(waits[1]).toBeLessThan(5.1);
  });
});
