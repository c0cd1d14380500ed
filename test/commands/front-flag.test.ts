import { describe, expect, it } from 'vitest';
import { parseFront, withFront } from '../../cli/dispatcher-options.js';
import { parseScenario } from '../../core/scenario.js';

const scenario = parseScenario({
  name: 't',
  hosts: [{ name: 'h', cores: 1, memoryMb: 1024 }],
  vms: [{ name: 'web', host: 'h', memoryMb: 256 }],
  workload: { classes: [{ name: 'page', share: 1, cpuMs: 1 }] },
  dispatcher: { client: { maxConnections: 50, front: 'node' } },
});

describe('--front', () => {
  it('replaces the scenario\'s dispatcher.client.front and keeps the rest of its client settings', () => {
    const client = withFront(scenario, parseFront('fast')).dispatcher.client;
    expect(client).toEqual({ ...scenario.dispatcher.client, front: 'fast' });
    expect(client.maxConnections).toBe(50);
  });

  it('left out, keeps the scenario\'s front; a scenario without one has the fast front', () => {
    expect(withFront(scenario, undefined).dispatcher.client.front).toBe('node');
    expect(parseScenario({ ...scenario, dispatcher: {} }).dispatcher.client.front).toBe('fast');
  });

  it('takes fast or node only', () => {
    expect(parseFront('node')).toBe('node');
    for (const bad of ['', 'Fast', 'undici']) expect(() => parseFront(bad)).toThrow(`--front: expected fast or node, got "${bad}"`);
  });
});
