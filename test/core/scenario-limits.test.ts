import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../core/duration.js';
import { MAX_SCENARIO_BYTES } from '../../core/limits.js';
import { loadScenario, parseScenario, parseScenarioText, ScenarioError } from '../../core/scenario.js';
import { simulate } from '../../sim/simulation.js';

// Issue 17.8: inputs that used to crash, hang or exhaust memory are refused with the path of the
// bad field (the CLI turns a ScenarioError into exit 2).

const base = {
  name: 't',
  hosts: [{ name: 'h', cores: 4, memoryMb: 8192 }],
  vms: [{ name: 'web', count: 2, host: 'h', memoryMb: 1024 }],
  workload: { classes: [{ name: 'page', share: 1, cpuMs: 5 }] },
};

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ScenarioError);
    return (err as ScenarioError).issues.map((i) => `${i.path}: ${i.message}`).join('\n');
  }
  throw new Error('accepted');
}

describe('scenario limits', () => {
  it('a YAML alias bomb is a ScenarioError, not a stack trace', () => {
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    expect(refusal(() => parseScenarioText(levels.join('\n')))).toMatch(/too many YAML aliases/);
  });

  it('a duration that overflows to Infinity, or longer than a week, is refused', () => {
    expect(parseDuration('9'.repeat(400))).toBeUndefined();
    expect(parseDuration(`${'9'.repeat(400)}s`)).toBeUndefined();
    expect(parseDuration('8d')).toBeUndefined();
    expect(parseDuration('169h')).toBeUndefined();
    expect(parseDuration('168h')).toBe(7 * 24 * 3_600_000);
    expect(refusal(() => parseScenarioText(`${JSON.stringify(base)}`.replace('"name":"t"', `"name":"t","duration":"${'9'.repeat(400)}s"`)))).toMatch(
      /^duration: .*at most 7 days/m,
    );
  });

  it('absurd rates, counts and sizes are refused with their path', () => {
    expect(refusal(() => parseScenario({ ...base, workload: { ...base.workload, arrival: { rateRps: 1e-300 } } }))).toMatch(/workload\.arrival/);
    expect(refusal(() => parseScenario({ ...base, workload: { ...base.workload, arrival: { rateRps: 1e9 } } }))).toMatch(/workload\.arrival/);
    expect(refusal(() => parseScenario({ ...base, vms: [{ ...base.vms[0], count: 1e7 }] }))).toMatch(/^vms\[0\]\.count/m);
    // Many entries each within the per-entry bound still cannot add up past the total.
    const many = Array.from({ length: 3 }, (_, i) => ({ ...base.vms[0], name: `w${i}`, count: 5000 }));
    expect(refusal(() => parseScenario({ ...base, vms: many }))).toMatch(/^vms: 15000 VMs in all; at most 10000/m);
    expect(refusal(() => parseScenario({ ...base, workload: { ...base.workload, sessions: 1e12 } }))).toMatch(/workload\.sessions/);
    expect(refusal(() => parseScenario({ ...base, dispatcher: { retries: 1000 } }))).toMatch(/dispatcher\.retries/);
  });

  it('the shutdown drain and grace are bounded by 10 minutes, and default to none and 2 s', () => {
    expect(parseScenario(base).dispatcher.shutdown).toEqual({ drainMs: 0, graceMs: 2000 });
    expect(parseScenario({ ...base, dispatcher: { shutdown: { drainMs: '10m' } } }).dispatcher.shutdown).toEqual({ drainMs: 600_000, graceMs: 2000 });
    expect(refusal(() => parseScenario({ ...base, dispatcher: { shutdown: { drainMs: '11m' } } }))).toMatch(/^dispatcher\.shutdown\.drainMs: 660000: expected at most 10 minutes/m);
    expect(refusal(() => parseScenario({ ...base, dispatcher: { shutdown: { graceMs: '1h' } } }))).toMatch(/^dispatcher\.shutdown\.graceMs/m);
    expect(refusal(() => parseScenario({ ...base, dispatcher: { shutdown: { drainMs: -1 } } }))).toMatch(/^dispatcher\.shutdown\.drainMs/m);
  });

  it('the proxy port\'s listen backlog defaults to 4096, keeps the other client settings, and is bounded', () => {
    expect(parseScenario(base).dispatcher.client.backlog).toBe(4096);
    expect(parseScenario({ ...base, dispatcher: { client: { backlog: 128 } } }).dispatcher.client).toEqual({ maxConnections: 10_000, headersTimeoutMs: 10_000, requestTimeoutMs: 120_000, bodyTimeoutMs: 10_000, backlog: 128, acceptHandles: 64, front: 'fast' });
    expect(parseScenario({ ...base, dispatcher: { client: { maxConnections: 5 } } }).dispatcher.client.backlog).toBe(4096);
    expect(refusal(() => parseScenario({ ...base, dispatcher: { client: { backlog: 0 } } }))).toMatch(/^dispatcher\.client\.backlog/m);
    expect(refusal(() => parseScenario({ ...base, dispatcher: { client: { backlog: 65_536 } } }))).toMatch(/^dispatcher\.client\.backlog/m);
    expect(refusal(() => parseScenario({ ...base, dispatcher: { client: { backlog: 1.5 } } }))).toMatch(/^dispatcher\.client\.backlog/m);
  });

  it('the proxy port gets 64 accept handles by default, 0 to 1024 of them', () => {
    expect(parseScenario(base).dispatcher.client.acceptHandles).toBe(64);
    expect(parseScenario({ ...base, dispatcher: { client: { acceptHandles: 0 } } }).dispatcher.client.acceptHandles).toBe(0);
    for (const bad of [-1, 1025, 2.5]) {
      expect(refusal(() => parseScenario({ ...base, dispatcher: { client: { acceptHandles: bad } } }))).toMatch(/^dispatcher\.client\.acceptHandles/m);
    }
  });

  it('the client front is fast or node', () => {
    expect(parseScenario({ ...base, dispatcher: { client: { front: 'node' } } }).dispatcher.client.front).toBe('node');
    expect(refusal(() => parseScenario({ ...base, dispatcher: { client: { front: 'nginx' } } }))).toMatch(/^dispatcher\.client\.front/m);
  });

  it('a scenario file larger than the cap is refused before it is read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scenario-limits-'));
    const file = join(dir, 'big.yaml');
    writeFileSync(file, `# ${'x'.repeat(MAX_SCENARIO_BYTES)}\n${JSON.stringify(base)}\n`);
    expect(refusal(() => loadScenario(file))).toMatch(/at most 1048576 bytes/);
  });

  it("a request class's numbers are bounded where a draw would overflow: a sigma of 1e308 made a simulation grow to 3.6 GB and abort", () => {
    const withClass = (cls: Record<string, unknown>) => () => parseScenario({ ...base, workload: { classes: [{ name: 'page', share: 1, cpuMs: 5, ...cls }] } });
    expect(refusal(withClass({ service: 'lognormal', sigma: 1e308 }))).toMatch(/^workload\.classes\[0\]\.sigma: .*<=5/);
    expect(refusal(withClass({ cpuMs: 1e308 }))).toMatch(/^workload\.classes\[0\]\.cpuMs: .*<=3600000/);
    expect(refusal(withClass({ ioOps: 1e12 }))).toMatch(/^workload\.classes\[0\]\.ioOps: /);
    expect(refusal(withClass({ pageTableUpdates: 1e12 }))).toMatch(/^workload\.classes\[0\]\.pageTableUpdates: /);
    expect(refusal(withClass({ memoryMb: 1e9 }))).toMatch(/^workload\.classes\[0\]\.memoryMb: /);
    // The bounds themselves are accepted, and a simulation at the largest shape ends with finite numbers.
    const widest = parseScenario({ ...base, workload: { classes: [{ name: 'page', share: 1, cpuMs: 5, service: 'lognormal', sigma: 5 }], arrival: { rateRps: 1 } } });
    const run = simulate(widest, { requests: 300 }).runs[0];
    expect(run.requests).toBe(300);
    expect(Number.isFinite(run.latencyMs.mean)).toBe(true);
  });
});
