import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookup } from 'node:dns/promises';
import { everyAddress } from '../../cli/load.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * `dispatchlab load`, the compose demo's load generator, as a user runs it: a real process
 * against a real server on 127.0.0.1 that counts what arrives.
 */

let server: TestServer;
let target: string;
const paths: string[] = [];

beforeAll(async () => {
  server = await startTestServer((req, res) => {
    paths.push(req.url ?? '');
    res.setHeader('set-cookie', 'dispatchlab_session=x; Path=/');
    res.end('ok');
  });
  target = server.url;
});

afterAll(() => server.close());

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function load(args: string[], stopAfterMs?: number): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'load', ...args], { stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  if (stopAfterMs !== undefined) {
    // Stop once the first round has been reported, so the test does not depend on startup speed.
    let stopping = false;
    child.stdout.on('data', () => {
      // Once: a second signal would kill it outright, as a second Ctrl-C does.
      if (!stopping && stdout.includes('round 1:')) {
        stopping = true;
        setTimeout(() => child.kill('SIGTERM'), stopAfterMs);
      }
    });
  }
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return once(child, 'exit').then(([code, signal]) => {
    clearTimeout(killer);
    return { code: code as number | null, signal: signal as NodeJS.Signals | null, stdout, stderr };
  });
}

describe('dispatchlab load', () => {
  it('sends the scenario’s requests at about the given rate, one line per round, then exits 0', async () => {
    paths.length = 0;
    const run = await load(['--scenario', 'scenarios/default.yaml', '--target', target, '--rate', '200', '--duration', '1s', '--round', '500ms']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const rounds = run.stdout.split('\n').filter((l) => /^load: round \d+: \d+ requests, 0 errors/.test(l));
    expect(rounds).toHaveLength(2);
    // Poisson arrivals at 200/s for 1 s: 200 expected; these bounds are many sigmas wide.
    expect(paths.length).toBeGreaterThan(100);
    expect(paths.length).toBeLessThan(320);
    // Both request classes of the default scenario (routes / and /report) are sent.
    expect(paths.some((p) => p.startsWith('/report'))).toBe(true);
    expect(paths.some((p) => !p.startsWith('/report'))).toBe(true);
  });

  it('spreads arrivals over several dispatchers and counts what it sent to each on --metrics-port', async () => {
    paths.length = 0;
    const secondPaths: string[] = [];
    const second = await startTestServer((req, res) => {
      secondPaths.push(req.url ?? '');
      res.end('ok');
    });
    let scraped = '';
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'load', '--scenario', 'scenarios/default.yaml',
      '--target', `${target},${second.url}`, '--rate', '200', '--round', '300ms', '--metrics-port', '0'], { stdio: 'pipe' });
    try {
      let stdout = '';
      // Scrape once a round has ended (every request of it counted), then stop the generator.
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (c: Buffer) => {
          stdout += c.toString();
          const metricsUrl = /metrics on (\S+)/.exec(stdout)?.[1];
          if (metricsUrl !== undefined && stdout.includes('round 1:') && scraped === '') {
            scraped = 'pending';
            fetch(metricsUrl).then((r) => r.text()).then((text) => { scraped = text; resolve(); }, reject);
          }
        });
        child.once('exit', () => reject(new Error(`load exited early: ${stdout}`)));
      });
      expect(stdout).toMatch(/round 1: .* over 2 dispatcher\(s\)/);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
      await second.close();
    }
    const sent = (url: string): number =>
      Number(new RegExp(`dispatchlab_loadgen_requests_total\\{dispatcher="${url}/",code="200"\\} (\\d+)`).exec(scraped)?.[1] ?? 'NaN');
    // Alternating arrivals (per round: the scrape may catch the next round partly ended): both got
    // about half, and each counted request arrived there.
    expect(sent(target)).toBeGreaterThan(10);
    expect(Math.abs(sent(target) - sent(second.url))).toBeLessThanOrEqual(0.1 * (sent(target) + sent(second.url)) + 2);
    expect(paths.length).toBeGreaterThanOrEqual(sent(target));
    expect(secondPaths.length).toBeGreaterThanOrEqual(sent(second.url));
    expect(scraped).toContain('dispatchlab_loadgen_dispatchers 2');
  });

  it('with --all-addresses, takes every address a name resolves to as a dispatcher, sorted, once each', async () => {
    const port = new URL(target).port;
    const localhost = (await lookup('localhost', { all: true })).map((a) => (a.family === 6 ? `[${a.address}]` : a.address));
    const urls = await everyAddress([new URL(`http://localhost:${port}`), new URL(`http://127.0.0.1:${port}`), new URL(`http://127.0.0.1:${port}`)]);
    expect(urls).toEqual([...new Set([...localhost, '127.0.0.1'].map((a) => `http://${a}:${port}/`))].sort());
    await expect(everyAddress([new URL('http://no-such-dispatcher.invalid:8080')])).rejects.toThrow(/--target http:\/\/no-such-dispatcher\.invalid:8080\//);
  });

  it('runs until SIGTERM without --duration, and exits 0 on it', async () => {
    const run = await load(['--scenario', 'scenarios/default.yaml', '--target', target, '--rate', '50', '--round', '300ms'], 100);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('round 1:');
    expect(run.stderr).toContain('SIGTERM, stopping');
    // The round in progress is cut short and still summarised.
    expect(run.stdout).toMatch(/load: round 2 \(interrupted: partial round\): \d+ requests, 0 errors, p50/);
  });

  it('--json - writes the rounds as JSON on stdout alone; --slo fails the run with exit 1; a dead target shows no latency', async () => {
    const run = await load(['--scenario', 'scenarios/default.yaml', '--target', 'http://127.0.0.1:1', '--rate', '50', '--duration', '400ms', '--round', '400ms', '--slo', 'errors<1%', '--json', '-']);
    expect(run.code).toBe(1);
    const json = JSON.parse(run.stdout) as { slo: string; rounds: Array<{ requests: number; errors: number; slo: { pass: boolean } }> };
    expect(json.slo).toBe('errors<1%');
    expect(json.rounds).toHaveLength(1);
    expect(json.rounds[0].errors).toBe(json.rounds[0].requests);
    expect(json.rounds[0].slo.pass).toBe(false);
    expect(run.stderr).toMatch(/round 1: \d+ requests, \d+ errors, no successful answer .*SLO FAIL: errors<1% \(was 100.00%\)/);
  });

  it('refuses a target that is not a URL with exit 2 and a message', async () => {
    const run = await load(['--scenario', 'scenarios/default.yaml', '--target', 'dispatcher:8080x', '--duration', '1s']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--target');
  });
});
