import { describe, expect, it } from 'vitest';
import { fanOut, type RequestEvents } from '../../core/request-events.js';
import { RunAccumulator } from '../../core/run-accumulator.js';
import { DispatcherMetrics } from '../../dispatcher/metrics.js';
import { parseMetrics, sumBy, sumOf } from '../../loadtest/scrape.js';

/**
 * The accumulator that builds a run's request fields, and Prometheus as another sink of the very
 * same events: both count a request, an attempt, a retry and a failure the same way.
 */

/** A warm-up request (arrived at 50), then four of the window that starts at 100; backends a and b, numbered 0 and 1 by their Balancer. */
function play(events: RequestEvents): void {
  // Warm-up: arrived before the window, answered inside it: not measured.
  events.arrived(50);
  events.admitted(50, 'a', 0, 1, 0);
  events.attemptEnded(50, 'a', true, 0);
  events.answered(50, 'a', 'error', 70);
  // Answered at once.
  events.arrived(100);
  events.admitted(100, 'a', 0, 1, 0);
  events.attemptEnded(100, 'a', false, 0);
  events.answered(100, 'a', '200', 10);
  // Waited 5 ms in the queue, failed on b, retried on a.
  events.arrived(110);
  events.admitted(110, 'b', 5, 1, 1);
  events.attemptEnded(110, 'b', true, 1);
  events.admitted(110, 'a', 0, 2, 0);
  events.attemptEnded(110, 'a', false, 0);
  events.answered(110, 'a', '200', 30);
  // Refused.
  events.arrived(120);
  events.answered(120, 'none', '503', 0);
  // The client left: not b's fault.
  events.arrived(130);
  events.admitted(130, 'b', 0, 1, 1);
  events.attemptEnded(130, 'b', false, 1);
  events.answered(130, 'b', '499', 3);
}

describe('RunAccumulator', () => {
  it('counts requests of the window, attempts and failures per backend, retries, errors by code', () => {
    const acc = new RunAccumulator([{ id: 'a', host: 'h' }, { id: 'b', host: 'h' }], 0, 1000);
    acc.startWindow(100);
    play(acc);
    acc.dropped(2);
    const f = acc.fields(2000);
    expect(f.requests).toBe(4 + 2);
    expect(f.errors).toBe(2 + 2);
    expect(f.dropped).toBe(2);
    expect(f.errorsByCode).toEqual({ '503': 1, '499': 1, dropped: 2 });
    expect(f.retries).toBe(1);
    expect(f.backends.map((b) => [b.id, b.requests, b.errors])).toEqual([['a', 2, 0], ['b', 2, 1]]);
    expect(f.backends.map((b) => b.share)).toEqual([0.5, 0.5]);
    // Two successes over a 2 s window; latency of the successes only.
    expect(f.throughputRps).toBe(1);
    expect(f.latencyMs.mean).toBeCloseTo(20, 6);
    expect(f.latencyMs.max).toBeCloseTo(30, 6);
    expect(f.queueWaitMs?.mean).toBeCloseTo(5 / 4, 6);
  });

  it("finds a backend by id whatever index the event carries (another Balancer's numbering), and appends one it has not seen", () => {
    const acc = new RunAccumulator([{ id: 'a', host: 'h' }, { id: 'b', host: 'h' }], 0, 1000);
    acc.startWindow(0);
    acc.admitted(1, 'a', 0, 1, 0);
    acc.admitted(1, 'a', 0, 1, 1);
    acc.admitted(1, 'b', 0, 1, 0);
    acc.admitted(1, 'b', 0, 1, 7);
    acc.attemptEnded(1, 'b', true, -1);
    acc.admitted(1, 'c', 0, 1, 0);
    acc.attemptEnded(1, 'c', true, 2);
    acc.admitted(1, 'c', 0, 2, 2);
    const f = acc.fields(1000);
    expect(f.backends.map((b) => [b.id, b.host, b.requests, b.errors])).toEqual([
      ['a', 'h', 2, 0],
      ['b', 'h', 2, 1],
      ['c', '', 2, 1],
    ]);
  });

  it('counts nothing before the window starts, but its timeline covers the warm-up, marked', () => {
    const acc = new RunAccumulator([], 0, 100);
    acc.arrived(50);
    acc.answered(50, 'a', '200', 400);
    acc.startWindow(100);
    acc.arrived(250);
    acc.answered(250, 'a', '200', 10);
    const f = acc.fields(1000);
    expect([f.requests, f.latencyMs.max]).toEqual([1, 10]);
    expect(f.timelineWarmupMs).toBe(100);
    // Buckets of 100 ms from the run's start: the warm-up request in the first, the measured one in the third.
    expect(f.timeline?.map((p) => [p.tMs, Math.round(p.p50)])).toEqual([[0, 400], [100, 0], [200, 10]]);
  });

  it("gives the timeline and its warm-up mark from the run's start when the clock does not start at 0 (live: performance.now())", () => {
    const originMs = 987_654.321;
    const acc = new RunAccumulator([], originMs, 100);
    acc.arrived(originMs + 50);
    acc.answered(originMs + 50, 'a', '200', 400);
    acc.startWindow(originMs + 100);
    acc.arrived(originMs + 250);
    acc.answered(originMs + 250, 'a', '200', 10);
    const f = acc.fields(1000);
    expect(f.timelineWarmupMs).toBeCloseTo(100, 6);
    expect(f.timeline?.map((p) => [p.tMs, Math.round(p.p50)])).toEqual([[0, 400], [100, 0], [200, 10]]);
  });
});

describe('Prometheus as another sink of the same events', () => {
  it('counts what the accumulator counts when both see the whole run', async () => {
    const metrics = new DispatcherMetrics('p');
    const acc = new RunAccumulator([], 0, 1000);
    acc.startWindow(0);
    play(fanOut([metrics, acc]));
    const f = acc.fields(1000);
    const samples = parseMetrics(await metrics.registry.metrics());
    expect(sumOf(samples, 'dispatchlab_requests_total')).toBe(f.requests);
    expect(sumOf(samples, 'dispatchlab_requests_total', { code: (c) => !/^[123]\d\d$/.test(c) })).toBe(f.errors);
    expect(sumOf(samples, 'dispatchlab_retries_total')).toBe(f.retries);
    expect(sumOf(samples, 'dispatchlab_queue_wait_seconds_count')).toBe(f.backends.reduce((s, b) => s + b.requests, 0));
    const failures = sumBy(samples, 'dispatchlab_attempt_failures_total', 'backend');
    for (const b of f.backends) expect(failures.get(b.id) ?? 0).toBe(b.errors);
  });
});
