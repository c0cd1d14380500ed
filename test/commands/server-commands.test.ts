import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { dispatchlab } from '../helpers/cli.js';

/**
 * The commands that start servers (`host`, `dispatcher`, `up`), in process: every refusal of bad
 * input happens before a socket is opened, exits 2 with a message and no stack trace. Starting
 * and stopping them for real is the smoke tests' job (test/cli/).
 */

const HOSTS = 'test/fixtures/backends-host.yaml';
const TWO = 'test/fixtures/dispatcher-two-replicas.yaml';
const dir = mkdtempSync(join(tmpdir(), 'dispatchlab-servers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const savedToken = process.env.DISPATCHLAB_ADMIN_TOKEN;
const savedSecret = process.env.DISPATCHLAB_SESSION_SECRET;
afterEach(() => {
  restore('DISPATCHLAB_ADMIN_TOKEN', savedToken);
  restore('DISPATCHLAB_SESSION_SECRET', savedSecret);
});
function restore(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

async function refused(args: string[], message: string | RegExp): Promise<void> {
  const run = await dispatchlab(...args);
  expect(run.stderr).toMatch(message);
  expect(run.code).toBe(2);
  expect(run.stdout).toBe('');
  expect(run.stderr).not.toMatch(/\n\s+at /);
}

describe('dispatchlab host: bad input', () => {
  it('names the hosts when the host is not in the scenario', async () => {
    await refused(['host', '--scenario', HOSTS, '--host', 'host-z'], /no host named "host-z" in .* \(hosts: host-a, host-b\)/);
  });

  it('says that a counted host entry is one process per host, not one host', async () => {
    const racks = join(dir, 'racks.yaml');
    writeFileSync(
      racks,
      ['name: racks', 'hosts: [{ name: rack, count: 3, cores: 2, memoryMb: 4096, basePort: 9700 }]', 'vms: [{ name: web, host: rack }]', 'workload: { classes: [{ name: page, share: 1, cpuMs: 5 }] }', 'policies: [round-robin]', ''].join('\n'),
    );
    await refused(['host', '--scenario', racks, '--host', 'rack'], /"rack" in .*racks\.yaml is a host entry of 3 hosts, rack-1 \.\.\. rack-3: run one `dispatchlab host` for each/);
  });

  it('names the missing field when the host has no port to listen on', async () => {
    await refused(['host', '--scenario', HOSTS, '--host', 'host-b'], 'hosts[1].basePort');
  });

  it('checks --base-port and --max-body-bytes', async () => {
    await refused(['host', '--scenario', HOSTS, '--host', 'host-a', '--base-port', '70000'], '--base-port: expected a port 0-65535, got "70000"');
    await refused(['host', '--scenario', HOSTS, '--host', 'host-a', '--max-body-bytes', '1.5'], '--max-body-bytes: expected a whole number of bytes, got "1.5"');
  });

  it('refuses a scenario file that does not exist', async () => {
    await refused(['host', '--scenario', join(dir, 'none.yaml'), '--host', 'h'], /cannot read .*none\.yaml: no such file/);
  });
});

describe('dispatchlab dispatcher: bad input', () => {
  it('refuses a policy the registry does not know', async () => {
    await refused(['dispatcher', '--scenario', TWO, '--backends', 'r1=http://127.0.0.1:1', '--policy', 'nope', '--port', '0', '--admin-port', '0'], /unknown policy "nope"/);
  });

  it('names the bad --backends entry', async () => {
    await refused(['dispatcher', '--scenario', TWO, '--backends', 'r1=ftp://x'], '--backends: "r1=ftp://x": expected http://host:port');
    await refused(['dispatcher', '--scenario', TWO, '--backends', 'a=http://127.0.0.1:1,a=http://127.0.0.1:2'], 'backend "a" is listed twice');
  });

  it('checks --engine', async () => {
    await refused(['dispatcher', '--scenario', TWO, '--engine', 'nginx'], '--engine: expected undici, http-proxy or socket, got "nginx"');
  });

  it('checks --backlog', async () => {
    await refused(['dispatcher', '--scenario', TWO, '--backlog', '0'], '--backlog: expected a whole number 1-65535, got "0"');
    await refused(['dispatcher', '--scenario', TWO, '--backlog', '70000'], '--backlog: expected a whole number 1-65535, got "70000"');
    await refused(['dispatcher', '--scenario', TWO, '--backlog', 'lots'], '--backlog: expected a whole number 1-65535, got "lots"');
  });

  it('checks the ports', async () => {
    await refused(['dispatcher', '--scenario', TWO, '--port', '-1'], '--port: expected a port 0-65535, got "-1"');
    await refused(['dispatcher', '--scenario', TWO, '--admin-port', 'x'], '--admin-port: expected a port 0-65535, got "x"');
  });

  it('refuses an admin token that cannot be read or is too short, from a file or the environment', async () => {
    const args = ['dispatcher', '--scenario', TWO, '--backends', 'r1=http://127.0.0.1:1', '--port', '0', '--admin-port', '0'];
    await refused([...args, '--admin-token-file', join(dir, 'none')], /--admin-token-file: cannot read .*none \(ENOENT\)/);
    const short = join(dir, 'short');
    writeFileSync(short, 'abc\n');
    await refused([...args, '--admin-token-file', short], 'holds no token of at least 8 characters');
    process.env.DISPATCHLAB_ADMIN_TOKEN = 'short';
    await refused(args, 'DISPATCHLAB_ADMIN_TOKEN: the token must be at least 8 characters');
  });

  it('refuses a session secret under 16 bytes', async () => {
    process.env.DISPATCHLAB_SESSION_SECRET = 'too-short';
    await refused(['dispatcher', '--scenario', TWO, '--backends', 'r1=http://127.0.0.1:1', '--port', '0', '--admin-port', '0'], 'DISPATCHLAB_SESSION_SECRET: the secret must be at least 16 bytes');
  });
});

describe('dispatchlab up: bad input', () => {
  it('refuses an unknown policy, a bad port and an unreadable token file', async () => {
    await refused(['up', '--scenario', TWO, '--policy', 'nope', '--port', '0', '--admin-port', '0'], /unknown policy "nope"/);
    await refused(['up', '--scenario', TWO, '--port', '65536'], '--port: expected a port 0-65535, got "65536"');
    await refused(['up', '--scenario', TWO, '--admin-token-file', join(dir, 'none')], '--admin-token-file: cannot read');
    await refused(['up', '--scenario', TWO, '--engine', 'HTTP-PROXY'], '--engine: expected undici, http-proxy or socket, got "HTTP-PROXY"');
    await refused(['up', '--scenario', TWO, '--backlog', '-1'], '--backlog: expected a whole number 1-65535, got "-1"');
  });
});
