import { AggregatorRegistry, exponentialBuckets, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ArrayHistogram, DispatcherMetrics } from '../../dispatcher/metrics.js';

/** The exposition line of one bucket of the queue-wait histogram, as a number. */
function bucket(text: string, le: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`dispatchlab_queue_wait_seconds_bucket{le="${le}",policy="p"}`));
  if (line === undefined) throw new Error(`no le="${le}" bucket in:\n${text}`);
  return Number(line.split(' ')[1]);
}

describe('DispatcherMetrics queue wait', () => {
  it('counts a request dispatched on arrival in a bucket of its own for 0, so quantiles of an unqueued run are 0', async () => {
    const metrics = new DispatcherMetrics('p');
    // Attempts admitted through the request events, as the dispatcher emits them.
    for (let i = 0; i < 3; i++) metrics.admitted(0, 'web-1', 0, 1);
    metrics.admitted(0, 'web-1', 2, 1);
    const text = await metrics.registry.metrics();
    expect(bucket(text, '0')).toBe(3);
    expect(bucket(text, '0.0005')).toBe(3);
    expect(bucket(text, '0.002')).toBe(4);
    expect(bucket(text, '+Inf')).toBe(4);
  });
});

/** The value of one exposition line, or undefined when the series does not exist. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

describe('DispatcherMetrics request series', () => {
  it('counts each backend and code under the policy in use, across a policy change and a backend leaving and coming back', async () => {
    const metrics = new DispatcherMetrics('p');
    metrics.admitted(0, 'web-1', 0, 1);
    metrics.answered(0, 'web-1', '200', 4);
    metrics.answered(0, 'web-1', '200', 8);
    metrics.answered(0, 'web-1', '502', 1);
    metrics.admitted(0, 'web-2', 0, 2);
    metrics.attemptEnded(0, 'web-2', true);
    metrics.attemptEnded(0, 'web-2', false);
    metrics.answered(0, 'web-2', '200', 2);

    metrics.policyChanged('q');
    metrics.answered(0, 'web-1', '200', 1);
    metrics.backendRemoved('web-2');
    metrics.admitted(0, 'web-2', 0, 2);
    metrics.answered(0, 'web-2', '200', 2);

    const text = await metrics.registry.metrics();
    expect(sample(text, 'dispatchlab_requests_total{policy="p",backend="web-1",code="200"}')).toBe(2);
    expect(sample(text, 'dispatchlab_requests_total{policy="p",backend="web-1",code="502"}')).toBe(1);
    expect(sample(text, 'dispatchlab_requests_total{policy="p",backend="web-2",code="200"}')).toBe(1);
    expect(sample(text, 'dispatchlab_requests_total{policy="q",backend="web-1",code="200"}')).toBe(1);
    expect(sample(text, 'dispatchlab_requests_total{policy="q",backend="web-2",code="200"}')).toBe(1);
    expect(sample(text, 'dispatchlab_request_duration_seconds_sum{policy="p",backend="web-1"}')).toBeCloseTo(0.013, 9);
    expect(sample(text, 'dispatchlab_request_duration_seconds_count{policy="q",backend="web-1"}')).toBe(1);
    expect(sample(text, 'dispatchlab_retries_total{policy="p",backend="web-2"}')).toBe(1);
    expect(sample(text, 'dispatchlab_retries_total{policy="q",backend="web-2"}')).toBe(1);
    expect(sample(text, 'dispatchlab_retries_total{policy="p",backend="web-1"}')).toBeUndefined();
    expect(sample(text, 'dispatchlab_attempt_failures_total{policy="p",backend="web-2"}')).toBe(1);
    expect(sample(text, 'dispatchlab_queue_wait_seconds_count{policy="p"}')).toBe(2);
    expect(sample(text, 'dispatchlab_queue_wait_seconds_count{policy="q"}')).toBe(1);
  });
});

describe('DispatcherMetrics sticky counts', () => {
  it('counts sticky hits and misses under the policy in use, across a policy change', async () => {
    const metrics = new DispatcherMetrics('p');
    metrics.observer.onSticky?.(true);
    metrics.observer.onSticky?.(true);
    metrics.observer.onSticky?.(false);
    metrics.policyChanged('q');
    metrics.observer.onSticky?.(false);
    const text = await metrics.registry.metrics();
    expect(sample(text, 'dispatchlab_sticky_hits_total{policy="p"}')).toBe(2);
    expect(sample(text, 'dispatchlab_sticky_misses_total{policy="p"}')).toBe(1);
    expect(sample(text, 'dispatchlab_sticky_misses_total{policy="q"}')).toBe(1);
    // A policy that never counted has no series, not a zero one.
    expect(sample(text, 'dispatchlab_sticky_hits_total{policy="q"}')).toBeUndefined();

    // Counts are handed over once: a second scrape repeats them, a later count adds to them,
    // and a policy used again counts on in its old series.
    expect(sample(await metrics.registry.metrics(), 'dispatchlab_sticky_hits_total{policy="p"}')).toBe(2);
    metrics.policyChanged('p');
    metrics.observer.onSticky?.(true);
    const later = await metrics.registry.metrics();
    expect(sample(later, 'dispatchlab_sticky_hits_total{policy="p"}')).toBe(3);
    expect(sample(later, 'dispatchlab_sticky_misses_total{policy="q"}')).toBe(1);
  });
});

describe('ArrayHistogram', () => {
  // Values on, between and past the bounds, a 0, and a second series made again after others.
  const observations: [string, string, number][] = [
    ['p', 'web-1', 0], ['p', 'web-1', 0.0005], ['p', 'web-1', 0.0007], ['p', 'web-2', 0.3],
    ['q', 'web-1', 99], ['p', 'web-1', 0.004], ['p', 'web-2', 0.0001],
  ];
  const bounds = [0, ...exponentialBuckets(0.0005, 2, 16)];

  it("exports what prom-client's Histogram exports for the same observations, as text and as JSON for the cluster aggregation", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const array = new ArrayHistogram('h_seconds', 'help text', ['policy', 'backend'], bounds, ours);
    const reference = new Histogram({ name: 'h_seconds', help: 'help text', labelNames: ['policy', 'backend'], buckets: bounds, registers: [theirs] });
    for (const [policy, backend, value] of observations) {
      array.labels(policy, backend).observe(value);
      reference.observe({ policy, backend }, value);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
    expect(await AggregatorRegistry.aggregate([await ours.getMetricsAsJSON(), await ours.getMetricsAsJSON()]).metrics())
      .toBe(await AggregatorRegistry.aggregate([await theirs.getMetricsAsJSON(), await theirs.getMetricsAsJSON()]).metrics());

    ours.resetMetrics();
    array.labels('p', 'web-1').observe(0.002);
    expect(await ours.metrics()).toContain('h_seconds_count{policy="p",backend="web-1"} 1\n');
    expect(await ours.metrics()).toContain('h_seconds_count{policy="q",backend="web-1"} 0\n');
  });
});
