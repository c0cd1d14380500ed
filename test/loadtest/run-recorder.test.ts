import { describe, expect, it } from 'vitest';
import { RunRecorder } from '../../loadtest/run-recorder.js';

describe('RunRecorder', () => {
  it('counts every request but takes latency from successful answers only, and counts late sends', () => {
    const r = new RunRecorder('measure', 0);
    r.record('200', 0, 50);
    r.record('503', 10, 11); // a fast refusal must not pull the latency down
    r.record('timeout');
    r.sent(2);
    r.sent(25);
    const result = r.result();
    expect(result.requests).toBe(3);
    expect(result.errors).toBe(2);
    expect(result.latencyMs.max).toBeCloseTo(50, 6);
    expect(result.latencyMs.mean).toBeCloseTo(50, 6);
    expect(result.late).toBe(1);
    expect(result.sendLagMs?.max).toBeCloseTo(25, 6);
  });
});
