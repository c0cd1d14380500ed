import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Report } from '../../core/report.js';
import { dispatchlab } from '../helpers/cli.js';
import { writeTinyScenario } from '../helpers/tiny-scenario.js';

/** `dispatchlab compare` in process, on real sockets: a fresh fleet, the load from a child process, the report files. */

const dir = mkdtempSync(join(tmpdir(), 'dispatchlab-compare-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const scenarioFile = writeTinyScenario(dir);

describe('dispatchlab compare', () => {
  it('prints the table, then the report directory with all three files', async () => {
    const out = join(dir, 'out');
    const { code, stdout, stderr } = await dispatchlab('compare', '--scenario', scenarioFile, '--policies', 'least-loaded', '--out', out);
    expect(code).toBe(0);
    expect(stdout).toMatch(/│ least-loaded +│/);
    expect(stdout.trim().split('\n').at(-1)).toBe(`report: ${out}`);
    expect(stderr).toMatch(/compare: least-loaded \(1\/1\): done/);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
    expect(report.command).toBe(`dispatchlab compare --scenario ${scenarioFile} --policies least-loaded --out ${out}`);
    expect(existsSync(join(out, 'report.html')) && existsSync(join(out, 'report.md'))).toBe(true);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain('arrival: { rateRps: 80 }');
    // Beside each live policy, its simulation on the same scenario, seed and work.
    expect(stdout).toMatch(/^live against simulated \(same scenario, seed and work; ms\):\n {2}least-loaded +mean [\d.]+ vs [\d.]+ \(x[\d.]+, in the model [\d.]+\) {2}p99 [\d.]+ vs [\d.]+ {2}timer lateness [\d.]+ {2}(agrees|explained|decisions-differ|diverges)$/m);
    expect(report.againstSim?.map((r) => r.policy)).toEqual(['least-loaded']);
    expect(report.againstSim?.[0].simulatedMeanMs).toBeGreaterThan(0);
  });

  it('runs a policy file live, as simulate does', async () => {
    const json = join(dir, 'file.json');
    const { code } = await dispatchlab('compare', '--scenario', scenarioFile, '--policies', 'examples/policies/slow-aware.ts', '--json', json);
    expect(code).toBe(0);
    const [run] = (JSON.parse(readFileSync(json, 'utf8')) as Report).runs;
    expect(run.policy).toBe('slow-aware');
    expect(run.requests).toBeGreaterThan(0);
    expect(run.errors).toBe(0);
  });
});
