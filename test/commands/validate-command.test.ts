import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dispatchlab } from '../helpers/cli.js';

/** `dispatchlab validate`, in process: its output and exit code. */

const dir = mkdtempSync(join(tmpdir(), 'dispatchlab-validate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('dispatchlab validate', () => {
  it('accepts every shipped scenario', async () => {
    const run = await dispatchlab('validate', 'scenarios/default.yaml', 'scenarios/homogeneous.yaml');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^scenarios\/default\.yaml: ok \(default: 2 hosts, 5 VMs of which 4 serve/m);
    expect(run.stdout).toMatch(/^scenarios\/homogeneous\.yaml: ok/m);
    expect(run.stderr).toBe('');
  });

  it('names an unknown key by its path and a YAML error by its line and column, once', async () => {
    const unknown = join(dir, 'unknown.yaml');
    writeFileSync(unknown, 'name: x\nhosts: [{name: h, cores: 1, memoryMb: 1024}]\nvms: [{name: web, host: h, gpu: 1}]\nworkload: {classes: [{name: c, share: 1, cpuMs: 1}]}\n');
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'name: x\nhosts: [\n  - a: [\n');
    const run = await dispatchlab('validate', unknown, broken);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${unknown}: invalid scenario\n  vms[0].gpu: unknown field\n`);
    expect(run.stderr).not.toContain('Unrecognized');
    expect(run.stderr.match(/line \d+, column \d+/g)).toHaveLength(1);
  });

  it('checks every file, lists each bad field with its path, and exits 2 with no stack trace', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      ['name: x', 'hosts:', '  - {name: host-a, cores: 2, memoryMb: 4096}', 'vms:', '  - {name: web, host: host-z}',
        'workload:', '  classes:', '  - {name: a, share: 0.5, cpuMs: 1}', 'policies: [round-robin, nope]', ''].join('\n'),
    );
    const run = await dispatchlab('validate', bad, 'scenarios/default.yaml', join(dir, 'missing.yaml'));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('vms[0].host: "host-z" is not a defined host (hosts: host-a)');
    expect(run.stderr).toContain('workload.classes: shares sum to 0.5, expected 1');
    expect(run.stderr).toContain('policies[1]: "nope" is not a known policy');
    expect(run.stderr).toContain(`cannot read ${join(dir, 'missing.yaml')}: no such file\n`);
    expect(run.stdout).toMatch(/scenarios\/default\.yaml: ok/);
    expect(run.stderr).toContain('2 of 3 scenario files invalid');
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});
