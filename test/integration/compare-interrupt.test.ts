import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../cli/main.js';
import type { Report } from '../../core/report.js';
import { captureIo } from '../helpers/cli.js';
import { writeTinyScenario } from '../helpers/tiny-scenario.js';

const dir = mkdtempSync(join(tmpdir(), 'dispatchlab-compare-interrupt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const scenarioFile = writeTinyScenario(dir);

describe('compare, interrupted', () => {
  it('on Ctrl-C writes the report of the policies that finished, names the others, and exits 130', async () => {
    const out = join(dir, 'interrupted');
    const io = captureIo();
    const ended = run(['compare', '--scenario', scenarioFile, '--out', out], io);
    // The first policy is done: interrupt the second while it runs.
    const deadline = performance.now() + 90_000;
    while (!io.stderrText().includes('(1/2): done') && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    io.stop('SIGINT');
    expect(await ended).toBe(130);
    expect(io.stderrText()).toMatch(/compare: interrupted; the report holds the policies that finished, not least-loaded/);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
    expect(report.runs.map((r) => r.policy)).toEqual(['round-robin']);
    expect(report.interrupted).toEqual({ notFinished: ['least-loaded'] });
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain('interrupted: not measured: least-loaded');
  });
});
