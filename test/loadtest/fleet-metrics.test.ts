import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../core/scenario.js';
import { fleetDelta } from '../../loadtest/fleet-metrics.js';
import { parseMetrics } from '../../loadtest/scrape.js';

const scenario = parseScenario({
  name: 't',
  hosts: [{ name: 'a', cores: 2, memoryMb: 4096 }, { name: 'b', cores: 1, memoryMb: 4096 }],
  vms: [
    { name: 'web', count: 2, host: 'a' },
    { name: 'web-b', host: 'b' },
    { name: 'noise', host: 'b', serves: false, background: { cpuCores: 1 } },
  ],
  workload: { classes: [{ name: 'page', share: 1, route: '/', cpuMs: 1 }] },
});

const dispatcherBefore = `dispatchlab_requests_total{policy="p",backend="web-1",code="200"} 5
dispatchlab_sticky_hits_total{policy="p"} 1
`;
const dispatcherAfter = `dispatchlab_requests_total{policy="p",backend="web-1",code="200"} 65
dispatchlab_requests_total{policy="p",backend="web-2",code="200"} 30
dispatchlab_requests_total{policy="p",backend="web-b",code="200"} 8
dispatchlab_requests_total{policy="p",backend="web-b",code="502"} 2
dispatchlab_requests_total{policy="p",backend="none",code="503"} 4
dispatchlab_retries_total{policy="p",backend="web-2"} 3
dispatchlab_sticky_hits_total{policy="p"} 91
dispatchlab_sticky_misses_total{policy="p"} 10
dispatchlab_queue_wait_seconds_bucket{policy="p",le="0.001"} 104
dispatchlab_queue_wait_seconds_bucket{policy="p",le="+Inf"} 104
dispatchlab_queue_wait_seconds_sum{policy="p"} 0
dispatchlab_queue_wait_seconds_count{policy="p"} 104
`;
const hostsBefore = `dispatchlab_vm_cpu_seconds_total{host="b",vm="noise"} 10
dispatchlab_vm_steal_seconds_total{host="b",vm="noise"} 1
`;
const hostsAfter = `dispatchlab_vm_cpu_seconds_total{host="a",vm="web-1"} 0.5
dispatchlab_vm_cpu_seconds_total{host="b",vm="noise"} 12
dispatchlab_vm_steal_seconds_total{host="b",vm="noise"} 1.5
dispatchlab_vm_steal_seconds_total{host="b",vm="web-b"} 0.25
`;

describe('fleetDelta', () => {
  const delta = fleetDelta(
    scenario,
    { dispatcher: parseMetrics(dispatcherBefore), hosts: parseMetrics(hostsBefore) },
    { dispatcher: parseMetrics(dispatcherAfter), hosts: parseMetrics(hostsAfter) },
  );

  it('gives every replica its requests, share of the served ones, errors and CPU, in scenario order', () => {
    expect(delta.backends.map((b) => [b.id, b.host, b.requests, b.errors])).toEqual([
      ['web-1', 'a', 60, 0],
      ['web-2', 'a', 30, 0],
      ['web-b', 'b', 10, 2],
    ]);
    expect(delta.backends.map((b) => b.share)).toEqual([0.6, 0.3, 0.1]);
    expect(delta.dispatcherRequests).toBe(104);
    expect(delta.errorsByCode).toEqual({ '502': 2, '503': 4 });
  });

  it('reports every VM, neighbours included, with CPU and steal over the window', () => {
    expect(delta.vms.find((v) => v.vm === 'noise')).toEqual({ vm: 'noise', host: 'b', serves: false, cpuSeconds: 2, stealSeconds: 0.5 });
    expect(delta.vms.find((v) => v.vm === 'web-b')?.stealSeconds).toBe(0.25);
    expect(delta.vms.find((v) => v.vm === 'web-2')?.cpuSeconds).toBe(0);
  });

  it('computes retries, the sticky hit ratio, and a queue-wait p99 of 0 when nobody waited', () => {
    expect(delta.retries).toBe(3);
    expect(delta.stickyHitRatio).toBe(0.9);
    expect(delta.queueWaitMs).toEqual({ mean: 0, p99: 0 });
  });
});
