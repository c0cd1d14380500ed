import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Report } from '../../core/report.js';
import { run } from '../../cli/main.js';
import { captureIo, dispatchlab } from '../helpers/cli.js';

/** `dispatchlab simulate`, in process: a whole (short) run in virtual time, and its refusals. */

const dir = mkdtempSync(join(tmpdir(), 'dispatchlab-sim-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('dispatchlab simulate', () => {
  it('prints the table and the theory, writes the report files, and reports progress off a terminal', async () => {
    const json = join(dir, 'r.json');
    const html = join(dir, 'r.html');
    const args = ['simulate', '--scenario', 'scenarios/homogeneous.yaml', '--policies', 'random,least-loaded', '--requests', '3000', '--json', json, '--html', html];
    const { code, stdout, stderr } = await dispatchlab(...args);
    expect(code).toBe(0);
    expect(stdout).toMatch(/random/);
    expect(stdout).toMatch(/central queue \(M\/M\/c, Erlang C\)/);
    expect(stdout).toMatch(/measured least-loaded +mean [\d.]+ ms/);
    expect(stdout).toMatch(/report: /);
    expect(stderr).toMatch(/^simulated random \(1\/2\): \d+ requests, [\d.]+ s of virtual time$/m);
    expect(stderr).toMatch(/^simulated least-loaded \(2\/2\)/m);
    const report = JSON.parse(readFileSync(json, 'utf8')) as Report;
    expect(report.mode).toBe('simulate');
    expect(report.runs.map((r) => r.policy)).toEqual(['random', 'least-loaded']);
    expect(report.runs.every((r) => r.requests === 3000)).toBe(true);
    expect(report.command).toBe(`dispatchlab ${args.join(' ')}`);
    expect(readFileSync(html, 'utf8')).toMatch(/<svg/);
  });

  it('--jobs 1 runs the policies one after the other in this thread, with the very report worker threads give', async () => {
    const reportOf = async (...jobs: string[]): Promise<Report> => {
      const json = join(dir, `jobs${jobs.join('')}.json`);
      const run = await dispatchlab('simulate', '--scenario', 'scenarios/homogeneous.yaml', '--policies', 'random,power-of-two', '--requests', '2000', ...jobs, '--json', json);
      expect(run.code).toBe(0);
      return JSON.parse(readFileSync(json, 'utf8')) as Report;
    };
    const [one, two] = [await reportOf('--jobs', '1'), await reportOf('--jobs', '2')];
    expect(two.runs).toEqual(one.runs);
    expect(two.runs.map((r) => r.policy)).toEqual(['random', 'power-of-two']);
  });

  it('on a terminal, draws a bar per policy that moves while the policies run in this thread (--jobs 1)', async () => {
    let drawn = '';
    const terminal = {
      isTTY: true,
      columns: 160,
      write: (text: string) => ((drawn += text), true),
      cursorTo: () => true,
      moveCursor: () => true,
      clearLine: () => true,
      clearScreenDown: () => true,
    };
    const io = { ...captureIo(), stderr: terminal as unknown as NodeJS.WriteStream };
    const args = ['simulate', '--scenario', 'scenarios/homogeneous.yaml', '--policies', 'random,least-loaded', '--requests', '50000', '--jobs', '1', '--out', join(dir, 'tty')];
    expect(await run(args, io)).toBe(0);
    // Each run has more events than a progress report's 65,536, so each is drawn part-way, then whole.
    for (const policy of ['random \\(1/2\\)', 'least-loaded \\(2/2\\)']) {
      expect(drawn).toMatch(new RegExp(`${policy} \\[[^\\]]*\\] [1-9]\\d?% \\|`));
      expect(drawn).toMatch(new RegExp(`${policy} \\[[^\\]]*\\] 100% \\|`));
    }
  });

  it('says when a scenario has no analytic baseline', async () => {
    const { code, stdout } = await dispatchlab('simulate', '--scenario', 'scenarios/default.yaml', '--policies', 'round-robin', '--duration', '4s', '--out', join(dir, 'default'));
    expect(code).toBe(0);
    expect(stdout).toMatch(/^no analytic baseline: /m);
    expect(stdout).toContain(`report: ${join(dir, 'default')}`);
  });

  it.each([
    [['--policies', 'nope'], /"nope" is not a policy \(known: round-robin, /],
    [['--policies', ' , '], '--policies: expected a comma-separated list of policies'],
    [['--requests', '10', '--duration', '10s'], '--requests and --duration: give one or the other'],
    [['--requests', '0'], '--requests: expected a whole number >= 1, got "0"'],
    [['--requests', '99999999999999999999'], '--requests: expected a whole number at most 9007199254740991, got "99999999999999999999"'],
    [['--policies', 'random,least-loaded,random'], '--policies: two policies are labelled "random"'],
    [['--policies', 'examples/policies/slow-aware.ts,./examples/policies/slow-aware.ts'], '--policies: two policies are labelled "slow-aware"'],
    [['--duration', 'soon'], '--duration: expected a duration such as 30s or 2m, got "soon"'],
    [['--duration', '5s'], "--duration: 5000 ms must be longer than the scenario's warmup (5000 ms)"],
    [['--dispatchers', '1.5'], '--dispatchers: expected a whole number >= 1, got "1.5"'],
    [['--jobs', '0'], '--jobs: expected a whole number >= 1, got "0"'],
  ])('%j: exit 2 with a message', async (args, message) => {
    const run = await dispatchlab('simulate', '--scenario', 'scenarios/homogeneous.yaml', ...args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stdout).toBe('');
  });
});
