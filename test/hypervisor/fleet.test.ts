import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { createFleet } from '../../backends/hypervisor/fleet.js';
import { loadScenario, replicaVms } from '../../core/scenario.js';
import { VirtualClock } from '../../core/virtual-clock.js';

const defaultScenario = loadScenario(fileURLToPath(new URL('../../scenarios/default.yaml', import.meta.url)));

describe('fleet', () => {
  it('builds every host of a scenario and finds the host of each VM', () => {
    const fleet = createFleet(defaultScenario, { clock: new VirtualClock() });
    expect(fleet.hosts.map((h) => h.name)).toEqual(['host-a', 'host-b']);
    expect(fleet.hostOf('web-a-2').name).toBe('host-a');
    expect(fleet.hostOf('web-b2').name).toBe('host-b');
    expect(fleet.host('host-b').snapshot().vms.map((v) => v.vm)).toEqual(['web-b1', 'web-b2', 'batch']);
    expect(() => fleet.host('host-z')).toThrow('no host "host-z" (hosts: host-a, host-b)');
    expect(() => fleet.hostOf('web-z')).toThrow('no VM "web-z" in the fleet');
  });

  it('the default scenario makes host-b replicas slower than host-a ones for the same request', () => {
    const clock = new VirtualClock();
    const fleet = createFleet(defaultScenario, { clock });
    fleet.start();
    const latency = new Map<string, number>();
    for (const vm of replicaVms(defaultScenario)) {
      fleet.hostOf(vm.name).submit(vm.name, { cpuMs: 5, ioOps: 20, pageTableUpdates: 100, memoryMb: 2 }, (r) => {
        if (r.ok) latency.set(vm.name, r.timing.finishedAt - r.timing.submittedAt);
      });
    }
    clock.runUntilIdle(10_000);
    fleet.stop();
    const fastest = Math.min(...['web-b1', 'web-b2'].map((vm) => latency.get(vm) ?? 0));
    expect(latency.get('web-a-1')).toBeLessThan(fastest);
  });
});
