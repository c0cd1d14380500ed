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
dispatchlab_vm_service_seconds_sum{host="a",vm="web-1"} 4
dispatchlab_vm_service_seconds_count{host="a",vm="web-1"} 100
`;
const hostsAfter = `dispatchlab_vm_cpu_seconds_total{host="a",vm="web-1"} 0.5
dispatchlab_vm_cpu_seconds_total{host="b",vm="noise"} 12
dispatchlab_vm_steal_seconds_total{host="b",vm="noise"} 1.5
dispatchlab_vm_steal_seconds_total{host="b",vm="web-b"} 0.25
dispatchlab_vm_service_seconds_sum{host="a",vm="web-1"} 5
dispatchlab_vm_service_seconds_count{host="a",vm="web-1"} 150
dispatchlab_vm_service_seconds_sum{host="b",vm="web-b"} 0.5
dispatchlab_vm_service_seconds_count{host="b",vm="web-b"} 10
`;

describe('fleetDelta', () => {
  const delta = fleetDelta(
    scenario,
    { dispatcher: parseMetrics(dispatcherBefore), hosts: parseMetrics(hostsBefore) },
    { dispatcher: parseMetrics(dispatcherAfter), hosts: parseMetrics(hostsAfter) },
  );

  it('reports every VM, neighbours included, with CPU and steal over the window', () => {
    expect(delta.vms.find((v) => v.vm === 'noise')).toEqual({ vm: 'noise', host: 'b', serves: false, cpuSeconds: 2, stealSeconds: 0.5 });
    expect(delta.vms.find((v) => v.vm === 'web-b')?.stealSeconds).toBe(0.25);
    expect(delta.vms.find((v) => v.vm === 'web-2')?.cpuSeconds).toBe(0);
  });

  it('computes the sticky hit ratio over the window', () => {
    expect(delta.stickyHitRatio).toBe(0.9);
  });

  it('has no sticky hit ratio when no request arrived with a pin in the window (as simulate reads it)', () => {
    const pinless = `dispatchlab_requests_total{policy="p",backend="web-1",code="200"} 65
dispatchlab_sticky_hits_total{policy="p"} 1
`;
    const after = fleetDelta(scenario, { dispatcher: parseMetrics(dispatcherBefore), hosts: [] }, { dispatcher: parseMetrics(pinless), hosts: [] });
    expect(after.stickyHitRatio).toBeUndefined();
  });

  it("gives the window's mean time in the VMs over every replica's completions, in ms", () => {
    // (1 s + 0.5 s) over (50 + 10) completions of the window.
    expect(delta.modelMeanMs).toBeCloseTo(25, 9);
    const idle = fleetDelta(scenario, { dispatcher: [], hosts: parseMetrics(hostsBefore) }, { dispatcher: [], hosts: parseMetrics(hostsBefore) });
    expect(idle.modelMeanMs).toBeUndefined();
  });
});
