import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
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

  it('on Ctrl-C writes the report of the policies that finished, names the others, and exits 130', async () => {
    const out = join(dir, 'interrupted');
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'compare', '--scenario', scenarioFile, '--out', out], { stdio: 'pipe' });
    let stderr = '';
    let interrupted = false;
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      // The first policy is done: interrupt the second while it runs (once: a second Ctrl-C kills outright).
      if (!interrupted && stderr.includes('(1/2): done')) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(killer);
    expect(code).toBe(130);
    expect(stderr).toMatch(/compare: interrupted; the report holds the policies that finished, not least-loaded/);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
    expect(report.runs.map((r) => r.policy)).toEqual(['round-robin']);
    expect(report.interrupted).toEqual({ notFinished: ['least-loaded'] });
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain('interrupted: not measured: least-loaded');
  });

  it('exits 2 with a message on bad input', async () => {
    await expect(cli(['--rate', '10', '--connections', '2'])).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/one or the other/) });
    await expect(cli(['--policies', 'nope'])).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/"nope" is not a policy/) });
    await expect(cli(['--duration', '200ms'])).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/longer than the warm-up/) });
  });
});
