import { AggregatorRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../core/virtual-clock.js';
import type { AdminBackend } from '../../dispatcher/admin-api.js';
import { mergeBackends, mergeLiveWindows } from '../../dispatcher/cluster.js';
import { LiveStats, OVERALL } from '../../dispatcher/live-stats.js';
import { DispatcherMetrics } from '../../dispatcher/metrics.js';

// What the `--workers` primary shows of its workers: the sums, and each worker's own view.

function backend(id: string, fields: Partial<AdminBackend>): AdminBackend {
  return { id, weight: 1, healthy: true, state: 'healthy', inFlight: 0, requests: 0, errors: 0, ejections: 0, consecutiveFailures: 0, url: `http://${id}`, ...fields } as AdminBackend;
}

describe('the primary merges its workers', () => {
  it('sums in-flight and counts per backend, keeps what each worker sees', () => {
    const merged = mergeBackends([
      { pid: 10, backends: [backend('a', { inFlight: 2, requests: 5, errors: 1 }), backend('b', { inFlight: 0, requests: 3 })] },
      { pid: 11, backends: [backend('a', { inFlight: 1, requests: 4, state: 'ejected', healthy: false, ejections: 1 }), backend('b', { inFlight: 3, requests: 6 })] },
    ]);
    expect(merged.map((b) => [b.id, b.inFlight, b.requests, b.errors, b.ejections])).toEqual([
      ['a', 3, 9, 1, 1],
      ['b', 3, 9, 0, 0],
    ]);
    // State is the first worker's; the other's disagreement is in its own view.
    expect(merged[0].state).toBe('healthy');
    expect(merged[0].workers).toEqual([
      { pid: 10, state: 'healthy', weight: 1, inFlight: 2, requests: 5 },
      { pid: 11, state: 'ejected', weight: 1, inFlight: 1, requests: 4 },
    ]);
  });

  it("adds the workers' per-second counts, aligned on the newest second, and their policy periods", () => {
    const clock = new VirtualClock();
    const one = new LiveStats({ clock, policy: 'p' });
    const two = new LiveStats({ clock, policy: 'p' });
    for (let i = 0; i < 10; i++) one.answered('a', '200', 4);
    two.answered('a', '502', 8);
    clock.advance(1000);
    one.answered('a', '200', 2);
    clock.advance(1000);
    const merged = mergeLiveWindows([one.window(), two.window()]);
    expect(merged.series.a.map((p) => [p.rps, p.errorsPerS])).toEqual([
      [11, 1],
      [1, 0],
    ]);
    // A percentile does not add up: the merged one is the worst worker's.
    expect(merged.series.a[0].p99Ms).toBe(8);
    expect(merged.series[OVERALL][0].rps).toBe(11);
    expect(merged.periods.at(-1)?.requests).toEqual({ a: 12 });
  });

  it('/metrics: amounts add up over the workers, states do not', async () => {
    const worker = (inFlight: number, healthy: boolean): DispatcherMetrics => {
      const m = new DispatcherMetrics('ll');
      m.bind({ backends: () => [backend('a', { inFlight, healthy, state: healthy ? 'healthy' : 'down', weight: 3 })], queueLength: () => 1, panic: false });
      m.answered(0, 'a', '200', 5);
      return m;
    };
    const text = await AggregatorRegistry.aggregate([await worker(2, true).registry.getMetricsAsJSON(), await worker(3, false).registry.getMetricsAsJSON()]).metrics();
    const value = (series: string): number => Number(new RegExp(`^${series.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('dispatchlab_requests_total{policy="ll",backend="a",code="200"}')).toBe(2);
    expect(value('dispatchlab_backend_in_flight{backend="a"}')).toBe(5);
    expect(value('dispatchlab_queue_length{policy="ll"}')).toBe(2);
    // Up only while every worker finds it eligible; a state is 1 when some worker has it in it.
    expect(value('dispatchlab_backend_up{backend="a"}')).toBe(0);
    expect(value('dispatchlab_backend_state{backend="a",state="healthy"}')).toBe(1);
    expect(value('dispatchlab_backend_state{backend="a",state="down"}')).toBe(1);
    expect(value('dispatchlab_backend_weight{backend="a"}')).toBe(3);
    expect(value('dispatchlab_policy_info{policy="ll"}')).toBe(1);
  });
});
