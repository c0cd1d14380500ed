import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../core/report.js';
import { http } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { writeTinyScenario } from '../helpers/tiny-scenario.js';
import { BUILT_CLI, killLeftovers, runBuilt, start } from './run-built.js';

/**
 * One smoke test per command of the built CLI (dist/cli/main.js, what the package's bin runs): it
 * starts, does its job end to end, and exits as documented. Argument parsing and every refusal are
 * tested in process (test/commands/); these only prove the real process is wired the same way.
 */

const dir = mkdtempSync(join(tmpdir(), 'dispatchlab-smoke-'));
afterAll(() => {
  killLeftovers();
  rmSync(dir, { recursive: true, force: true });
});

/** `field(out, 'admin')`: the URL on the line that starts with that label. */
function field(out: string, label: string): string {
  const match = new RegExp(`^${label}\\s+(\\S+)`, 'm').exec(out);
  if (!match) throw new Error(`no "${label}" line in:\n${out}`);
  return match[1];
}

/** The generated admin token's file the banner names, which exists (mode 0600) while the process runs. */
function generatedToken(out: string): string {
  const file = /^admin token: in (\S+) \(generated, mode 0600/m.exec(out)?.[1];
  if (file === undefined) throw new Error(`no generated admin token in:\n${out}`);
  expect(readFileSync(file, 'utf8').trim().length).toBeGreaterThanOrEqual(16);
  return file;
}

describe('the built dispatchlab', () => {
  it('validate: 0 for a good scenario, 2 and the bad field for a bad one', async () => {
    const good = await runBuilt(['validate', 'scenarios/default.yaml']);
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/^scenarios\/default\.yaml: ok/m);
    const bad = await runBuilt(['validate', 'test/fixtures/backends-host.yaml', join(dir, 'missing.yaml')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/cannot read .*missing\.yaml: no such file/);
  });

  it('policies: runs through a symlink to the bin, as npm installs it, and prints JSON', async () => {
    const link = join(dir, 'dispatchlab');
    symlinkSync(BUILT_CLI, link);
    const run = await runBuilt(['policies', '--json'], { script: link });
    expect(run.code).toBe(0);
    expect((JSON.parse(run.stdout) as Array<{ name: string }>).map((p) => p.name)).toContain('round-robin');
  });

  it('host: prints one line per replica, serves them, exits 0 on SIGTERM', async () => {
    const host = start(['host', '--scenario', 'test/fixtures/backends-host.yaml', '--host', 'host-a', '--base-port', '0']);
    const out = await host.printed(/metrics at .*\n/);
    const replicas = out.split('\n').filter((l) => /^web-\d /.test(l)).map((l) => l.split(' '));
    expect(replicas.map(([vm]) => vm)).toEqual(['web-1', 'web-2']);
    for (const [, url] of replicas) expect((await http(`${url}/healthz`)).status).toBe(200);
    host.child.kill('SIGTERM');
    const { code, stderr } = await host.exited;
    expect(code).toBe(0);
    expect(stderr).toContain('host-a: SIGTERM, shutting down');
  });

  it('dispatcher: proxies to --backends, exits 0 on SIGTERM', async () => {
    const host = start(['host', '--scenario', 'test/fixtures/backends-host.yaml', '--host', 'host-a', '--base-port', '0']);
    const replica = /^web-1 (\S+)$/m.exec(await host.printed(/metrics at .*\n/))![1];
    const dispatcher = start(['dispatcher', '--scenario', 'test/fixtures/backends-host.yaml', '--backends', `web-1=${replica}`, '--port', '0', '--admin-port', '0'], {
      env: { DISPATCHLAB_ADMIN_TOKEN: '' },
    });
    const out = await dispatcher.printed(/^backend\s+web-1 .*\n/m);
    const tokenFile = generatedToken(out);
    const answer = await http(`${field(out, 'dispatcher')}/page`);
    expect(answer.status).toBe(200);
    expect(answer.headers['x-served-by']).toBe('web-1');
    dispatcher.child.kill('SIGTERM');
    host.child.kill('SIGTERM');
    expect((await dispatcher.exited).code).toBe(0);
    expect((await host.exited).code).toBe(0);
    // The directory it created for its generated token goes with it.
    expect(existsSync(dirname(tokenFile))).toBe(false);
  });

  it('up: runs the hosts and the dispatcher, prints the URLs, exits 0 on SIGTERM', async () => {
    const up = start(['up', '--scenario', 'test/fixtures/dispatcher-two-replicas.yaml', '--policy', 'll', '--port', '0', '--admin-port', '0'], {
      env: { DISPATCHLAB_ADMIN_TOKEN: '' },
    });
    const out = await up.printed(/^replica\s+r2 .*\n/m);
    expect(out).toMatch(/^dispatcher http:\/\/127\.0\.0\.1:\d+ \(policy ll\)$/m);
    expect((await http(`${field(out, 'dispatcher')}/page`)).status).toBe(200);
    const policy = JSON.parse((await http(`${field(out, 'admin')}/policy`)).text) as { name: string; label: string };
    expect(policy).toMatchObject({ name: 'least-loaded', label: 'll' });
    const tokenFile = generatedToken(out);
    up.child.kill('SIGTERM');
    expect((await up.exited).code).toBe(0);
    expect(existsSync(dirname(tokenFile))).toBe(false);
  });

  it('up: removes the directory of its generated token on SIGINT too, and never a token file it was given', async () => {
    const generated = start(['up', '--scenario', 'test/fixtures/dispatcher-two-replicas.yaml', '--port', '0', '--admin-port', '0'], {
      env: { DISPATCHLAB_ADMIN_TOKEN: '' },
    });
    const tokenFile = generatedToken(await generated.printed(/^replica\s+r2 .*\n/m));
    generated.child.kill('SIGINT');
    expect((await generated.exited).code).toBe(0);
    expect(existsSync(dirname(tokenFile))).toBe(false);

    const given = join(dir, 'given-token');
    writeFileSync(given, 'a-token-of-the-users-own\n', { mode: 0o600 });
    const up = start(['up', '--scenario', 'test/fixtures/dispatcher-two-replicas.yaml', '--port', '0', '--admin-port', '0', '--admin-token-file', given]);
    expect(await up.printed(/^replica\s+r2 .*\n/m)).toMatch(/^admin token: as configured$/m);
    up.child.kill('SIGTERM');
    expect((await up.exited).code).toBe(0);
    expect(readFileSync(given, 'utf8')).toBe('a-token-of-the-users-own\n');
  });

  it('up --workers 2: the built worker entry starts, proxies, and every process exits on SIGTERM', async () => {
    const up = start(['up', '--scenario', 'test/fixtures/dispatcher-two-replicas.yaml', '--port', '0', '--admin-port', '0', '--workers', '2'], {
      env: { DISPATCHLAB_ADMIN_TOKEN: '' },
    });
    const out = await up.printed(/^replica\s+r2 .*\n/m);
    expect(out).toMatch(/^dispatcher http:\/\/127\.0\.0\.1:\d+ \(policy round-robin, 2 workers: pids \d+ \d+\)$/m);
    expect((await http(`${field(out, 'dispatcher')}/page`)).status).toBe(200);
    const tokenFile = generatedToken(out);
    up.child.kill('SIGTERM');
    expect((await up.exited).code).toBe(0);
    expect(existsSync(dirname(tokenFile))).toBe(false);
  });

  it('simulate: the table and a JSON report', async () => {
    const json = join(dir, 'sim.json');
    const run = await runBuilt(['simulate', '--scenario', 'scenarios/homogeneous.yaml', '--policies', 'round-robin', '--requests', '500', '--json', json]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/round-robin/);
    const report = JSON.parse(readFileSync(json, 'utf8')) as Report;
    expect(report.runs.map((r) => [r.policy, r.requests])).toEqual([['round-robin', 500]]);
  });

  it('compare: a live run of one policy, the table and a JSON report', async () => {
    const json = join(dir, 'compare.json');
    const run = await runBuilt(['compare', '--scenario', writeTinyScenario(dir), '--policies', 'round-robin', '--json', json]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/│ round-robin +│/);
    const report = JSON.parse(readFileSync(json, 'utf8')) as Report;
    expect(report.mode).toBe('live');
    expect(report.runs[0].requests).toBeGreaterThan(0);
  });

  describe('load', () => {
    let target: TestServer;
    let received = 0;
    beforeAll(async () => {
      target = await startTestServer((_req, res) => {
        received++;
        res.end('ok');
      });
    });
    afterAll(() => target.close());

    it('sends the scenario’s requests, one line per round, and exits 0 when --duration is spent', async () => {
      const run = await runBuilt(['load', '--scenario', 'scenarios/default.yaml', '--target', target.url, '--rate', '100', '--duration', '1s', '--round', '500ms']);
      expect(run.code).toBe(0);
      const rounds = run.stdout.split('\n').filter((l) => /^load: round \d+: \d+ requests, 0 errors/.test(l));
      expect(rounds).toHaveLength(2);
      const sent = rounds.reduce((sum, l) => sum + Number(/: (\d+) requests/.exec(l)![1]), 0);
      expect(received).toBe(sent);
    });
  });
});
