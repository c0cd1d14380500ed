import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dispatchlab } from '../helpers/cli.js';
import { writeTinyScenario } from '../helpers/tiny-scenario.js';

/**
 * `dispatchlab compare`, in process: bad input is refused before any fleet starts. A whole run is
 * on real sockets: test/integration/compare-command.test.ts.
 */

const dir = mkdtempSync(join(tmpdir(), 'dispatchlab-compare-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const scenarioFile = writeTinyScenario(dir);

describe('dispatchlab compare: bad input', () => {
  it.each([
    [['--rate', '10', '--connections', '2'], '--rate and --connections: give one or the other (open or closed loop)'],
    [['--policies', 'nope'], '"nope" is not a policy'],
    [['--duration', '200ms'], '--duration: 200 ms must be longer than the warm-up (300 ms)'],
    [['--duration', '2s', '--warmup', '2s'], '--duration: 2000 ms must be longer than the warm-up (2000 ms)'],
    [['--warmup', 'x'], '--warmup: expected a duration such as 30s or 2m, got "x"'],
    [['--duration', '0s'], '--duration: expected a duration such as 30s or 2m, got "0s"'],
    [['--rate', '0'], '--rate: expected a number > 0, got "0"'],
    [['--connections', '-3'], '--connections: expected a whole number >= 1, got "-3"'],
    // The scenario's own bounds: past them the generator drops nearly every arrival.
    [['--rate', '2000000'], '--rate: expected requests per second 0.001-1000000, got "2000000"'],
    [['--connections', '10001'], '--connections: expected a whole number at most 10000, got "10001"'],
    [['--policies', 'round-robin,round-robin'], '--policies: two policies are labelled "round-robin"'],
    [['--engine', 'haproxy'], '--engine: expected undici, http-proxy or socket, got "haproxy"'],
  ])('%j: exit 2 with a message', async (args, message) => {
    const run = await dispatchlab('compare', '--scenario', scenarioFile, ...args);
    expect(run.stderr).toContain(message);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
  });

  it('refuses a scenario that is not valid, naming the file', async () => {
    const run = await dispatchlab('compare', '--scenario', join(dir, 'none.yaml'));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/cannot read .*none\.yaml: no such file/);
  });
});
