import { describe, expect, it } from 'vitest';
import { createFleet } from '../../backends/hypervisor/fleet.js';
import { listNames } from '../../core/names.js';
import { parseScenario } from '../../core/scenario.js';
import { VirtualClock } from '../../core/virtual-clock.js';

describe('listNames', () => {
  it('lists every name while they are few, else the first ones and how many there are', () => {
    expect(listNames([])).toBe('');
    expect(listNames(['a', 'b', 'c'], 3)).toBe('a, b, c');
    expect(listNames(new Set(['a', 'b', 'c', 'd']), 3)).toBe('a, b, c, ... (4 in all)');
  });

  it('keeps a message about a data-centre fleet short: an unknown host among 500', () => {
    const scenario = parseScenario({
      name: 'dc',
      hosts: [{ name: 'rack', count: 500, cores: 2, memoryMb: 4096 }],
      vms: [{ name: 'web', host: 'rack' }],
      workload: { classes: [{ name: 'page', share: 1, cpuMs: 1 }] },
    });
    const fleet = createFleet(scenario, { clock: new VirtualClock() });
    expect(() => fleet.host('rack-501')).toThrow('no host "rack-501" (hosts: rack-1, rack-2, rack-3, rack-4, rack-5, rack-6, rack-7, rack-8, rack-9, rack-10, rack-11, rack-12, ... (500 in all))');
  });
});
