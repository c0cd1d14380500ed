import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { startHost, type RunningHost } from '../../backends/host-server.js';
import { loadScenario } from '../../core/scenario.js';
import { get } from './dispatcher-helpers.js';

/** `dispatchlab up` and `dispatchlab dispatcher` as a user runs them: URLs printed, SIGTERM exits 0. */

const FIXTURE = 'test/fixtures/dispatcher-two-replicas.yaml';
const children: ChildProcess[] = [];
let host: RunningHost | undefined;

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await host?.close(0);
});

/** Start the CLI and collect its stdout until `ready` matches it. */
function cli(args: string[], ready: RegExp): Promise<{ child: ChildProcess; out: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DISPATCHLAB_ADMIN_TOKEN: '' } });
  children.push(child);
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (ready.test(out)) resolve({ child, out });
    });
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('exit', (code) => reject(new Error(`exited with ${code} before ready: ${out}${err}`)));
  });
}

function exitCode(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

function field(out: string, label: string): string {
  const match = new RegExp(`^${label}\\s+(\\S+)`, 'm').exec(out);
  if (!match) throw new Error(`no "${label}" line in:\n${out}`);
  return match[1];
}

describe('dispatcher commands', () => {
  it('up: runs the hosts and the dispatcher, prints the URLs and a generated token, exits 0 on SIGTERM', async () => {
    const { child, out } = await cli(['up', '--scenario', FIXTURE, '--policy', 'll', '--port', '0', '--admin-port', '0'], /replica\s+r2 .*\n/);
    expect(out).toMatch(/^dispatcher http:\/\/127\.0\.0\.1:\d+ \(policy ll\)$/m);
    const tokenFile = /^admin token: in (\S+) \(generated, mode 0600/m.exec(out)?.[1];
    expect(tokenFile).toBeDefined();
    expect(statSync(tokenFile!).mode & 0o777).toBe(0o600);
    expect(readFileSync(tokenFile!, 'utf8').trim()).toMatch(/^\S{16,}$/);
    expect(out).not.toContain(readFileSync(tokenFile!, 'utf8').trim());
    const answer = await get(`${field(out, 'dispatcher')}/page`);
    expect(answer.status).toBe(200);
    const policy = (await (await fetch(`${field(out, 'admin')}/policy`)).json()) as { name: string; label: string };
    expect(policy).toMatchObject({ name: 'least-loaded', label: 'll' });
    const exited = exitCode(child);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('dispatcher: proxies to --backends and refuses a bad policy with exit 2', async () => {
    host = await startHost({ scenario: loadScenario(FIXTURE), hostName: 'h1', port: 'auto' });
    const backends = `r1=${host.replicas[0].url}`;
    const { child, out } = await cli(['dispatcher', '--scenario', FIXTURE, '--backends', backends, '--port', '0', '--admin-port', '0'], /backend\s+r1 .*\n/);
    expect((await get(`${field(out, 'dispatcher')}/page`)).servedBy).toBe('r1');
    const exited = exitCode(child);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);

    const bad = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'dispatcher', '--scenario', FIXTURE, '--backends', backends, '--policy', 'nope', '--port', '0', '--admin-port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(bad);
    let err = '';
    bad.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    expect(await exitCode(bad)).toBe(2);
    expect(err).toMatch(/unknown policy "nope"/);
  });
});
