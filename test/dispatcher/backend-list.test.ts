import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../core/scenario.js';
import { backendsFromScenario, parseBackendList } from '../../dispatcher/backend-list.js';

const scenario = parseScenario({
  name: 't',
  hosts: [
    { name: 'a', cores: 2, memoryMb: 4096, basePort: 9100, address: 'host-a' },
    { name: 'b', cores: 2, memoryMb: 4096, basePort: 9200 },
  ],
  vms: [
    { name: 'web', count: 2, host: 'a', weight: 2 },
    { name: 'bg', host: 'a', serves: false },
    { name: 'solo', host: 'b', port: 8000 },
  ],
  workload: { classes: [{ name: 'p', share: 1, cpuMs: 1 }] },
});

describe('backend list', () => {
  it('derives URLs from host addresses and the replica port rule, with VM weights', () => {
    expect(backendsFromScenario(scenario)).toEqual([
      { id: 'web-1', url: 'http://host-a:9100', host: 'a', weight: 2 },
      { id: 'web-2', url: 'http://host-a:9101', host: 'a', weight: 2 },
      { id: 'solo', url: 'http://127.0.0.1:8000', host: 'b', weight: 1 },
    ]);
  });

  it('parses id=URL lists, and bare URLs named after the replicas when the counts match', () => {
    expect(parseBackendList('x=http://h:1, solo=http://h:2', scenario)).toEqual([
      { id: 'x', url: 'http://h:1', host: undefined, weight: undefined },
      { id: 'solo', url: 'http://h:2', host: 'b', weight: 1 },
    ]);
    expect(parseBackendList('http://h:1,http://h:2,http://h:3', scenario).map((b) => b.id)).toEqual(['web-1', 'web-2', 'solo']);
    expect(parseBackendList('http://h:1').map((b) => b.id)).toEqual(['backend-1']);
  });

  it('refuses bad entries with the entry named', () => {
    expect(() => parseBackendList('ftp://h:1')).toThrow('--backends: "ftp://h:1": expected http://host:port');
    expect(() => parseBackendList('a=http://h:1,a=http://h:2')).toThrow(/listed twice/);
    expect(() => parseBackendList(' , ')).toThrow(/expected id=URL/);
  });
});
