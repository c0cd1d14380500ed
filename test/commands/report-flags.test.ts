import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Report } from '../../core/report.js';
import { dispatchlab } from '../helpers/cli.js';

/** What `simulate` (and `compare`, through the same report-output.ts) promises a load-testing user: SLOs, exit codes, JSON on stdout. */

const dir = mkdtempSync(join(tmpdir(), 'dispatchlab-report-flags-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('report flags and exit codes', () => {
  it('checks --slo per policy: exit 1 and the failed thresholds when one fails, 0 when all pass', async () => {
    const args = ['simulate', '--scenario', 'scenarios/homogeneous.yaml', '--policies', 'random,least-loaded', '--requests', '3000', '--out', join(dir, 'slo')];
    // At utilisation 0.9, random assignment's p99 is hundreds of ms and least-loaded's far less.
    const failed = await dispatchlab(...args, '--slo', 'p99<300ms,errors<1%');
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/SLO p99<300ms,errors<1%: 1 of 2 policies failed\n\s+random: p99<300ms \(was \d+\.\d+ ms\)/);
    const passed = await dispatchlab(...args, '--slo', 'errors<1%');
    expect(passed.code).toBe(0);
    expect(passed.stdout).toMatch(/SLO errors<1%: every policy passed/);
    expect(passed.stdout).toMatch(/│ +SLO +│ +errors +│/);
    const report = JSON.parse(readFileSync(join(dir, 'slo', 'report.json'), 'utf8')) as Report;
    expect(report.slo).toBe('errors<1%');
    expect(report.runs.map((r) => r.slo?.pass)).toEqual([true, true]);
  });

  it('--json - writes the JSON report to stdout and nothing else there; the table goes to stderr', async () => {
    const { code, stdout, stderr } = await dispatchlab('simulate', '--scenario', 'scenarios/homogeneous.yaml', '--policies', 'least-loaded', '--requests', '500', '--json', '-');
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as Report;
    expect(report.runs.map((r) => r.requests)).toEqual([500]);
    expect(stderr).toMatch(/│ least-loaded +│/);
  });

  it('refuses an output path it could not write before running, in one line', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const run = await dispatchlab('simulate', '--scenario', 'scenarios/homogeneous.yaml', '--requests', '1000', '--json', join(file, 'r.json'));
    expect(run.code).toBe(2);
    // The whole of stderr is that line: no policy ran (each one prints a "simulated ..." line when done).
    expect(run.stderr).toMatch(/^--json: cannot create .*a-file is a file, not a directory\n$/);
  });

  it('prints its version', async () => {
    const { code, stdout } = await dispatchlab('--version');
    expect(code).toBe(0);
    expect(stdout.trim()).toBe((JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version);
  });

  it('usage errors exit 2 like bad values, not 1 (which means an SLO failed)', async () => {
    const unknown = await dispatchlab('simulate', '--scenario', 'scenarios/homogeneous.yaml', '--no-such-flag');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--no-such-flag'/);
    const missing = await dispatchlab('simulate');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/required option '--scenario <file>' not specified/);
    const badSlo = await dispatchlab('simulate', '--scenario', 'scenarios/homogeneous.yaml', '--slo', 'p99<<1');
    expect(badSlo.code).toBe(2);
    expect(badSlo.stderr).toMatch(/--slo: "p99<<1": expected METRIC<VALUE/);
  });
});
