import { describe, expect, it } from 'vitest';
import { parseScenario, ScenarioError } from '../../core/scenario.js';
import { replicaPorts } from '../../backends/replica-ports.js';

const scenario = parseScenario({
  name: 'ports',
  hosts: [
    { name: 'host-a', cores: 4, memoryMb: 16384, basePort: 9100 },
    { name: 'host-b', cores: 4, memoryMb: 16384 },
  ],
  vms: [
    { name: 'web', count: 2, host: 'host-a' },
    { name: 'batch', host: 'host-a', serves: false },
    { name: 'pinned', host: 'host-a', port: 9500 },
    { name: 'late', host: 'host-a' },
    { name: 'b', host: 'host-b' },
  ],
  workload: { classes: [{ name: 'page', share: 1, cpuMs: 1 }] },
});

const ports = (host: string, base?: number) => replicaPorts(scenario, host, base).map((r) => [r.vm.name, r.port]);

describe('replicaPorts', () => {
  it('numbers serving VMs from the base port in scenario order; neighbours get none; a fixed port wins', () => {
    expect(ports('host-a')).toEqual([['web-1', 9100], ['web-2', 9101], ['pinned', 9500], ['late', 9103]]);
  });

  it('takes an explicit base port over the host’s, and 0 as ephemeral for every replica', () => {
    expect(ports('host-a', 7000)).toEqual([['web-1', 7000], ['web-2', 7001], ['pinned', 9500], ['late', 7003]]);
    expect(ports('host-a', 0).map(([, p]) => p)).toEqual([0, 0, 0, 0]);
    expect(ports('host-b', 0)).toEqual([['b', 0]]);
  });

  it('refuses a host with no way to pick a port, and an unknown host, naming the field', () => {
    expect(() => replicaPorts(scenario, 'host-b')).toThrow(/hosts\[1\]\.basePort: host "host-b" has no basePort/);
    expect(() => replicaPorts(scenario, 'host-z')).toThrow(ScenarioError);
    expect(() => replicaPorts(scenario, 'host-a', 65534)).toThrow(/leaves no room/);
  });
});
