import { describe, expect, it } from 'vitest';
import { DispatcherMetrics } from '../../dispatcher/metrics.js';

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
