import { describe, expect, it } from 'vitest';
import { diffMetrics, histogramQuantile, parseMetrics, sumBy, sumOf } from '../../loadtest/scrape.js';

const BEFORE = `# HELP dispatchlab_requests_total requests answered
# TYPE dispatchlab_requests_total counter
dispatchlab_requests_total{policy="rr",backend="web-1",code="200"} 10
dispatchlab_requests_total{policy="rr",backend="web-2",code="200"} 5
dispatchlab_queue_wait_seconds_bucket{le="0.001",policy="rr"} 4
dispatchlab_queue_wait_seconds_bucket{le="0.01",policy="rr"} 8
dispatchlab_queue_wait_seconds_bucket{le="+Inf",policy="rr"} 10
dispatchlab_queue_wait_seconds_sum{policy="rr"} 0.05
dispatchlab_queue_wait_seconds_count{policy="rr"} 10
`;
const AFTER = `dispatchlab_requests_total{backend="web-1",code="200",policy="rr"} 40 1700000000000
dispatchlab_requests_total{policy="rr",backend="web-2",code="200"} 25
dispatchlab_requests_total{policy="rr",backend="web-2",code="502"} 2
dispatchlab_queue_wait_seconds_bucket{le="0.001",policy="rr"} 54
dispatchlab_queue_wait_seconds_bucket{le="0.01",policy="rr"} 108
dispatchlab_queue_wait_seconds_bucket{le="+Inf",policy="rr"} 110
dispatchlab_queue_wait_seconds_sum{policy="rr"} 0.35
dispatchlab_queue_wait_seconds_count{policy="rr"} 110
weird{path="a \\"quoted\\" \\\\ back\\nline",x="1"} NaN
up +Inf
`;

describe('parseMetrics', () => {
  it('reads samples, labels with escapes, timestamps and special values', () => {
    const samples = parseMetrics(AFTER);
    expect(samples).toHaveLength(10);
    expect(samples[0]).toEqual({ name: 'dispatchlab_requests_total', labels: { backend: 'web-1', code: '200', policy: 'rr' }, value: 40 });
    expect(samples[8].labels).toEqual({ path: 'a "quoted" \\ back\nline', x: '1' });
    expect(samples[8].value).toBeNaN();
    expect(samples[9]).toEqual({ name: 'up', labels: {}, value: Infinity });
  });

  it('names the line of junk', () => {
    expect(() => parseMetrics('ok 1\nthis is not a sample\n')).toThrow(/line 2/);
    expect(() => parseMetrics('m{a="1" b} 1')).toThrow(/line 1: bad label set/);
  });
});

describe('diff and aggregation', () => {
  const delta = diffMetrics(parseMetrics(BEFORE), parseMetrics(AFTER));

  it('subtracts series by name and label set, whatever the label order; new series count from 0', () => {
    expect(sumBy(delta, 'dispatchlab_requests_total', 'backend')).toEqual(new Map([['web-1', 30], ['web-2', 22]]));
    expect(sumOf(delta, 'dispatchlab_requests_total', { code: (c) => c !== '200' })).toBe(2);
  });

  it('interpolates a quantile inside a histogram bucket as PromQL does', () => {
    // Delta buckets: 50 below 1 ms, 50 in (1, 10] ms, 0 above. p50 = 1 ms, p75 = 5.5 ms.
    expect(histogramQuantile(delta, 'dispatchlab_queue_wait_seconds', 0.5)).toBeCloseTo(0.001, 9);
    expect(histogramQuantile(delta, 'dispatchlab_queue_wait_seconds', 0.75)).toBeCloseTo(0.0055, 9);
    expect(sumOf(delta, 'dispatchlab_queue_wait_seconds_sum') / sumOf(delta, 'dispatchlab_queue_wait_seconds_count')).toBeCloseTo(0.003, 9);
    expect(histogramQuantile(delta, 'dispatchlab_queue_wait_seconds', 0.5, { policy: 'other' })).toBeUndefined();
  });

  it('answers the highest finite bound for a quantile in the +Inf bucket', () => {
    const samples = parseMetrics('h_bucket{le="1"} 1\nh_bucket{le="2"} 1\nh_bucket{le="+Inf"} 10\n');
    expect(histogramQuantile(samples, 'h', 0.99)).toBe(2);
  });
});
