import { describe, expect, it } from 'vitest';
import { createRng } from '../../core/rng.js';
import { bench } from '../hypervisor/fixtures.js';

describe('against queueing theory', () => {
  it('M/M/1-PS at utilisation 0.7: mean response within 3% of 1/(mu - lambda) over 200,000 requests', () => {
    const serviceMeanMs = 10;
    const utilisation = 0.7;
    const arrivalGapMs = serviceMeanMs / utilisation;
    const requests = 200_000;
    const b = bench({ cores: 1, memoryMb: 4096 }, [{ name: 'a', vcpus: 1, memoryMb: 512 }]);
    const rng = createRng(7);
    const arrivals = rng.stream('arrivals');
    const service = rng.stream('service');
    let sent = 0;
    let done = 0;
    let totalMs = 0;
    const arrive = (): void => {
      const start = b.clock.now();
      b.host.submit('a', { cpuMs: service.exponential(serviceMeanMs), ioOps: 0, pageTableUpdates: 0, memoryMb: 0 }, (r) => {
        if (!r.ok) throw new Error(r.reason);
        totalMs += r.timing.finishedAt - start;
        done++;
      });
      if (++sent < requests) b.clock.schedule(arrivals.exponential(arrivalGapMs), arrive);
    };
    arrive();
    b.clock.runUntilIdle();
    expect(done).toBe(requests);
    const mu = 1 / serviceMeanMs;
    const lambda = 1 / arrivalGapMs;
    const theoryMs = 1 / (mu - lambda);
    expect(Math.abs(totalMs / done - theoryMs) / theoryMs).toBeLessThan(0.03);
  });
});
