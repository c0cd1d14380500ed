import { describe, expect, it } from 'vitest';
import { dispatchlab } from '../helpers/cli.js';

/**
 * `dispatchlab load`, in process: bad input is refused before anything is sent. A run against a
 * server is in test/cli/ (the built CLI) and test/compose/.
 */

describe('dispatchlab load: bad input', () => {
  it.each([
    [['--target', 'dispatcher:8080x'], '--target: expected an http:// URL such as http://127.0.0.1:8080, got "dispatcher:8080x"'],
    [['--target', 'https://127.0.0.1:8443'], '--target: expected an http:// URL'],
    [['--target', 'http://127.0.0.1:1', '--rate', '-5'], '--rate: expected a number > 0, got "-5"'],
    [['--target', 'http://127.0.0.1:1', '--rate', '1e9'], '--rate: expected requests per second 0.001-1000000, got "1e9"'],
    [['--target', 'http://127.0.0.1:1', '--round', '0s'], '--round: expected a duration such as 30s or 2m, got "0s"'],
    [['--target', 'http://127.0.0.1:1', '--max-in-flight', '0'], '--max-in-flight: expected a whole number >= 1, got "0"'],
  ])('%j: exit 2 with a message', async (args, message) => {
    const run = await dispatchlab('load', '--scenario', 'scenarios/default.yaml', ...args);
    expect(run.stderr).toContain(message);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
  });

  it('needs --rate when the scenario is closed loop', async () => {
    const run = await dispatchlab('load', '--scenario', 'test/fixtures/closed-loop.yaml', '--target', 'http://127.0.0.1:1');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('has a closed-loop arrival; give a rate in requests per second');
  });
});
