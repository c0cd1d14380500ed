import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseScenario } from '../../core/scenario.js';
import { startUp, type RunningUp } from '../../dispatcher/local-fleet.js';
import { simulate } from '../../sim/simulation.js';
import { get } from './dispatcher-helpers.js';

/**
 * A host entry with `count: N` (a data centre's rack of identical hosts) is, everywhere after
 * parsing, the N hosts written out one by one: the simulator runs the same fleet, and the live
 * dispatcher proxies to a replica on each of them.
 */
const common = {
  name: 'host-groups',
  workload: { classes: [{ name: 'page', share: 1, cpuMs: 2, service: 'exponential' }], arrival: { rateRps: 400 } },
  faults: [{ at: '1s', for: '1s', vm: 'web-dc-2-1', kind: 'crash' }],
  dispatcher: { healthCheck: { intervalMs: 200, timeoutMs: 10_000, rise: 1, fall: 1 } },
  policies: ['round-robin', 'power-of-two'],
};

const grouped = parseScenario({
  ...common,
  hosts: [
    { name: 'dc', count: 3, cores: 2, memoryMb: 4096, hypervisor: 'type2', hostLoad: 0.5 },
    { name: 'edge', cores: 1, memoryMb: 2048 },
  ],
  vms: [
    { name: 'web', count: 2, host: 'dc', vcpus: 1, memoryMb: 512 },
    { name: 'cache', host: 'edge', vcpus: 1, memoryMb: 512 },
  ],
});

const writtenOut = parseScenario({
  ...common,
  hosts: [
    ...[1, 2, 3].map((k) => ({ name: `dc-${k}`, cores: 2, memoryMb: 4096, hypervisor: 'type2', hostLoad: 0.5 })),
    { name: 'edge', cores: 1, memoryMb: 2048 },
  ],
  vms: [
    ...[1, 2, 3].map((k) => ({ name: `web-dc-${k}`, count: 2, host: `dc-${k}`, vcpus: 1, memoryMb: 512 })),
    { name: 'cache', host: 'edge', vcpus: 1, memoryMb: 512 },
  ],
});

describe('host entries with a count', () => {
  it('simulated: the same report, number for number, as the hosts written out one by one', () => {
    const a = simulate(grouped, { requests: 4000 });
    const b = simulate(writtenOut, { requests: 4000 });
    expect(a.runs.map((r) => r.backends.map((be) => be.id))).toEqual(Array(2).fill(['web-dc-1-1', 'web-dc-1-2', 'web-dc-2-1', 'web-dc-2-2', 'web-dc-3-1', 'web-dc-3-2', 'cache']));
    // The copies of one entry are one kind; written out, each entry is a kind of its own.
    expect(a.runs[0].backends.map((be) => be.kind)).toEqual([...Array(6).fill('web'), 'cache']);
    expect(b.runs[0].backends.map((be) => be.kind)).toEqual(['web-dc-1', 'web-dc-1', 'web-dc-2', 'web-dc-2', 'web-dc-3', 'web-dc-3', 'cache']);
    const kindless = (runs: typeof a.runs) => runs.map((run) => ({ ...run, backends: run.backends.map(({ kind: _, ...rest }) => rest) }));
    expect(kindless(a.runs)).toEqual(kindless(b.runs));
    expect(a.theory).toEqual(b.theory);
  });

  describe('live, on real sockets', () => {
    let up: RunningUp;
    beforeAll(async () => {
      up = await startUp({ scenario: { ...grouped, faults: [] }, policy: 'round-robin' });
    });
    afterAll(async () => {
      await up?.close();
    });

    it('runs a host process per host of the entry, and round-robin reaches the replica of every VM placed on them', async () => {
      expect(up.hosts.map((h) => h.replicas.map((r) => r.vm))).toEqual([['web-dc-1-1', 'web-dc-1-2'], ['web-dc-2-1', 'web-dc-2-2'], ['web-dc-3-1', 'web-dc-3-2'], ['cache']]);
      const served = new Set<string | null>();
      for (let i = 0; i < 14; i++) {
        const answer = await get(`${up.dispatcher.url}/page`);
        expect(answer.status).toBe(200);
        served.add(answer.servedBy);
      }
      expect([...served].sort()).toEqual(['cache', 'web-dc-1-1', 'web-dc-1-2', 'web-dc-2-1', 'web-dc-2-2', 'web-dc-3-1', 'web-dc-3-2']);
    });
  });
});
