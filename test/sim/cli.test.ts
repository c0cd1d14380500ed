import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { Report } from '../../core/report.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'dispatchlab-sim-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { timeout: 60_000 });
}

describe('dispatchlab simulate', () => {
  it('prints the table and the theory, and writes the report files', async () => {
    const json = join(dir, 'r.json');
    const html = join(dir, 'r.html');
    const { stdout } = await cli(['simulate', '--scenario', 'scenarios/homogeneous.yaml', '--policies', 'random,least-loaded', '--requests', '3000', '--json', json, '--html', html]);
    expect(stdout).toMatch(/random/);
    expect(stdout).toMatch(/central queue \(M\/M\/c, Erlang C\)/);
    expect(stdout).toMatch(/report: /);
    const report = JSON.parse(readFileSync(json, 'utf8')) as Report;
    expect(report.mode).toBe('simulate');
    expect(report.runs.map((r) => r.policy)).toEqual(['random', 'least-loaded']);
    expect(report.runs.every((r) => r.requests === 3000)).toBe(true);
    expect(report.command).toMatch(/^dispatchlab simulate --scenario/);
    expect(readFileSync(html, 'utf8')).toMatch(/<svg/);
  });

  it('checks --slo per policy: exit 1 and the failed thresholds when one fails, 0 when all pass', async () => {
    const args = ['simulate', '--scenario', 'scenarios/homogeneous.yaml', '--policies', 'random,least-loaded', '--requests', '3000', '--out', join(dir, 'slo')];
    // At utilisation 0.9, random assignment's p99 is hundreds of ms and least-loaded's far less.
    const failed = cli([...args, '--slo', 'p99<300ms,errors<1%']);
    await expect(failed).rejects.toMatchObject({ code: 1, stdout: expect.stringMatching(/SLO p99<300ms,errors<1%: 1 of 2 policies failed\n\s+random: p99<300ms \(was \d+\.\d+ ms\)/) });
    const passed = await cli([...args, '--slo', 'errors<1%']);
    expect(passed.stdout).toMatch(/SLO errors<1%: every policy passed/);
    expect(passed.stdout).toMatch(/│ +SLO +│ +errors +│/);
    const report = JSON.parse(readFileSync(join(dir, 'slo', 'report.json'), 'utf8')) as Report;
    expect(report.slo).toBe('errors<1%');
    expect(report.runs.map((r) => r.slo?.pass)).toEqual([true, true]);
  });

  it('--json - writes the JSON report to stdout and nothing else there; the table goes to stderr', async () => {
    const { stdout, stderr } = await cli(['simulate', '--scenario', 'scenarios/homogeneous.yaml', '--policies', 'least-loaded', '--requests', '500', '--json', '-']);
    const report = JSON.parse(stdout) as Report;
    expect(report.runs.map((r) => r.requests)).toEqual([500]);
    expect(stderr).toMatch(/│ least-loaded +│/);
  });

  it('refuses an output path it could not write before running, in one line', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    // The whole of stderr is that line: no policy ran (each one prints a "simulated ..." line when done).
    await expect(cli(['simulate', '--scenario', 'scenarios/homogeneous.yaml', '--requests', '1000', '--json', join(file, 'r.json')])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/^--json: cannot create .*a-file is a file, not a directory\n$/),
    });
  });

  it('prints its version', async () => {
    const { stdout } = await cli(['--version']);
    expect(stdout.trim()).toBe((JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version);
  });

  it('exits 2 with a message on bad input', async () => {
    // Usage errors (commander's own) exit 2 like bad values, not 1 (which means an SLO failed).
    await expect(cli(['simulate', '--scenario', 'scenarios/homogeneous.yaml', '--no-such-flag'])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/unknown option '--no-such-flag'/),
    });
    await expect(cli(['simulate'])).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/required option '--scenario <file>' not specified/) });
    await expect(cli(['simulate', '--scenario', 'scenarios/homogeneous.yaml', '--slo', 'p99<<1'])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--slo: "p99<<1": expected METRIC<VALUE/),
    });
    await expect(cli(['simulate', '--scenario', 'scenarios/homogeneous.yaml', '--policies', 'nope'])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/"nope" is not a policy/),
    });
    await expect(cli(['simulate', '--scenario', 'scenarios/homogeneous.yaml', '--requests', '10', '--duration', '10s'])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/one or the other/),
    });
  });
});
