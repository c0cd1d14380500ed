import { describe, expect, it } from 'vitest';
import { parseBacklog, withBacklog } from '../../cli/dispatcher-options.js';
import { parseScenario } from '../../core/scenario.js';

const scenario = parseScenario({
  name: 't',
  hosts: [{ name: 'h', cores: 1, memoryMb: 1024 }],
  vms: [{ name: 'web', host: 'h', memoryMb: 256 }],
  workload: { classes: [{ name: 'page', share: 1, cpuMs: 1 }] },
  dispatcher: { client: { maxConnections: 50, backlog: 256 } },
});

describe('--backlog', () => {
  it('replaces the scenario\'s dispatcher.client.backlog and keeps the rest of its client settings', () => {
    const client = withBacklog(scenario, parseBacklog('8192')).dispatcher.client;
    expect(client).toEqual({ ...scenario.dispatcher.client, backlog: 8192 });
    expect(client.maxConnections).toBe(50);
  });

  it('left out, keeps the scenario\'s backlog', () => {
    expect(withBacklog(scenario, undefined).dispatcher.client.backlog).toBe(256);
  });

  it('takes whole numbers 1-65535 only', () => {
    expect(parseBacklog('1')).toBe(1);
    expect(parseBacklog('65535')).toBe(65_535);
    for (const bad of ['0', '65536', '2.5', '', 'many']) expect(() => parseBacklog(bad)).toThrow(`--backlog: expected a whole number 1-65535, got "${bad}"`);
  });
});
