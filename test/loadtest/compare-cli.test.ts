import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { Report } from '../../core/report.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'dispatchlab-compare-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const scenarioFile = join(dir, 'tiny.yaml');
writeFileSync(
  scenarioFile,
  `name: tiny
hosts: [{ name: h, cores: 2, memoryMb: 4096 }]
vms: [{ name: web, count: 2, host: h, vcpus: 1, memoryMb: 512, virtualization: container }]
workload:
  classes: [{ name: page, share: 1, route: /, cpuMs: 1 }]
  arrival: { rateRps: 80 }
policies: [round-robin, least-loaded]
duration: 1500ms
warmup: 300ms
`,
);

function cli(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'compare', '--scenario', scenarioFile, ...args], { timeout: 60_000 });
}

describe('dispatchlab compare', () => {
  it('prints the table, then the report directory with all three files', async () => {
    const out = join(dir, 'out');
    const { stdout, stderr } = await cli(['--policies', 'least-loaded', '--out', out]);
    expect(stdout).toMatch(/│ least-loaded +│/);
    expect(stdout.trim().split('\n').at(-1)).toBe(`report: ${out}`);
    expect(stderr).toMatch(/compare: least-loaded \(1\/1\): done/);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
    expect(report.command).toBe(`dispatchlab compare --scenario ${scenarioFile} --policies least-loaded --out ${out}`);
    expect(existsSync(join(out, 'report.html')) && existsSync(join(out, 'report.md'))).toBe(true);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain('arrival: { rateRps: 80 }');
  });

  it('runs a policy file live, as simulate does', async () => {
    const json = join(dir, 'file.json');
    await cli(['--policies', 'examples/policies/slow-aware.ts', '--json', json]);
    const [run] = (JSON.parse(readFileSync(json, 'utf8')) as Report).runs;
    expect(run.policy).toBe('slow-aware');
    expect(run.requests).toBeGreaterThan(0);
    expect(run.errors).toBe(0);
  });

  it('exits 2 with a message on bad input', async () => {
    await expect(cli(['--rate', '10', '--connections', '2'])).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/one or the other/) });
    await expect(cli(['--policies', 'nope'])).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/"nope" is not a policy/) });
    await expect(cli(['--duration', '200ms'])).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/longer than the warm-up/) });
  });
});
