import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

  it('exits 2 with a message on bad input', async () => {
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
