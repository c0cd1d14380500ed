import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { http } from './http.js';

/** `dispatchlab host` as a user runs it: a real process, its printed URLs, SIGTERM, exit codes. */

const FIXTURE = 'test/fixtures/backends-host.yaml';
const started: ChildProcessWithoutNullStreams[] = [];

function cli(...args: string[]): ChildProcessWithoutNullStreams {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { stdio: 'pipe' });
  started.push(child);
  return child;
}

async function exitOf(child: ChildProcessWithoutNullStreams): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stderr };
}

afterAll(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

describe('dispatchlab host', () => {
  it('prints one line per replica, serves them, and exits 0 on SIGTERM', async () => {
    const child = cli('host', '--scenario', FIXTURE, '--host', 'host-a', '--base-port', '0');
    const exited = exitOf(child);
    const lines: string[] = [];
    for await (const line of createInterface({ input: child.stdout })) {
      lines.push(line);
      if (line.includes('metrics at')) break;
    }
    const replicas = lines.filter((l) => !l.includes('metrics at')).map((l) => l.split(' '));
    expect(replicas.map(([vm]) => vm)).toEqual(['web-1', 'web-2']);
    for (const [, url] of replicas) {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await http(`${url}/healthz`)).status).toBe(200);
    }
    child.kill('SIGTERM');
    expect((await exited).code).toBe(0);
  });

  it('exits 2 naming the hosts when the host is not in the scenario', async () => {
    const { code, stderr } = await exitOf(cli('host', '--scenario', FIXTURE, '--host', 'host-z'));
    expect(code).toBe(2);
    expect(stderr).toContain('no host named "host-z"');
    expect(stderr).toContain('host-a, host-b');
  });

  it('exits 2 when the host has no port to listen on', async () => {
    const { code, stderr } = await exitOf(cli('host', '--scenario', FIXTURE, '--host', 'host-b'));
    expect(code).toBe(2);
    expect(stderr).toContain('hosts[1].basePort');
  });
});
