import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createCompareProgress, createElapsed } from '../../cli/compare-progress.js';

function sink(): { stream: NodeJS.WriteStream; text: () => string } {
  let out = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      out += String(chunk);
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  return { stream, text: () => out };
}

describe('compare progress off a terminal', () => {
  it('prints plain lines: start, a throttled status, done', () => {
    const { stream, text } = sink();
    const progress = createCompareProgress(stream);
    const base = { policy: 'least-loaded', index: 1, total: 3, durationMs: 8000, warmupMs: 2000 };
    progress.update({ ...base, stage: 'starting' });
    const tick = { phase: 'measure' as const, elapsedMs: 1500, requests: 450, errors: 2, inFlight: 3, rateRps: 299.6 };
    progress.update({ ...base, stage: 'load', tick });
    progress.update({ ...base, stage: 'load', tick }); // within the throttle interval: not printed
    progress.update({ ...base, stage: 'done' });
    progress.stop();
    expect(text().split('\n')).toEqual([
      'compare: least-loaded (2/3): starting a fresh fleet',
      'compare: least-loaded (2/3): measure 3.5s, 450 requests, 300 req/s, 2 errors',
      'compare: least-loaded (2/3): done',
      '',
    ]);
    expect(text()).not.toContain('\u001b[');
  });
});

describe('compare progress time', () => {
  it('never goes back between the warm-up (drain included) and the measured window, and restarts per policy', () => {
    const elapsed = createElapsed();
    const base = { policy: 'p', index: 0, total: 2, durationMs: 8000, warmupMs: 2000, stage: 'load' as const };
    const tick = (phase: 'warmup' | 'measure' | 'drain', elapsedMs: number) => ({ phase, elapsedMs, requests: 0, errors: 0, inFlight: 0, rateRps: 0 });
    // The warm-up ran 2.6 s (its drain) where 2 s were planned.
    const seen = [tick('warmup', 500), tick('warmup', 2600), tick('measure', 100), tick('drain', 8200)].map((t) => elapsed({ ...base, tick: t }));
    expect(seen).toEqual([500, 2600, 2700, 10_800]);
    expect(elapsed({ ...base, index: 1, tick: tick('measure', 100) })).toBe(2100);
  });
});
