import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { createProgram } from '../../cli/main.js';
import { captureIo, dispatchlab } from '../helpers/cli.js';

/** The program as a whole, in process: its commands, usage errors and exit codes. */

const COMMANDS = ['validate', 'policies', 'host', 'dispatcher', 'up', 'simulate', 'compare', 'load'];

describe('dispatchlab (in process)', () => {
  it('lists every command in its help, on stdout, and exits 0', async () => {
    const run = await dispatchlab('--help');
    expect(run.code).toBe(0);
    for (const name of COMMANDS) expect(run.stdout).toMatch(new RegExp(`^ {2}${name}\\b`, 'm'));
  });

  it('refuses an unknown command without exiting the process: a CommanderError, the message on stderr', async () => {
    const io = captureIo();
    const error = await createProgram(io).parseAsync(['simulat'], { from: 'user' }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(CommanderError);
    expect(error).toMatchObject({ code: 'commander.unknownCommand', exitCode: 1 });
    expect(io.stderrText()).toContain("unknown command 'simulat'");
    expect(io.stderrText()).toContain('(Did you mean simulate?)');
    expect(await Promise.race([io.exited(), Promise.resolve('not exited')])).toBe('not exited');
  });

  it.each([
    ['host', ['--host', 'h'], '--scenario <file>'],
    ['host', ['--scenario', 'x.yaml'], '--host <name>'],
    ['dispatcher', [], '--scenario <file>'],
    ['up', [], '--scenario <file>'],
    ['simulate', [], '--scenario <file>'],
    ['compare', [], '--scenario <file>'],
    ['load', ['--target', 'http://127.0.0.1:1'], '--scenario <file>'],
    ['load', ['--scenario', 'x.yaml'], '--target <urls>'],
  ])('%s %j: a missing required option is a usage error (exit 2) naming it', async (command, args, option) => {
    const run = await dispatchlab(command, ...args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`required option '${option}' not specified`);
    expect(run.stdout).toBe('');
  });

  it('validate needs at least one file', async () => {
    const run = await dispatchlab('validate');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("missing required argument 'files'");
  });

  it('refuses an option a command does not have', async () => {
    const run = await dispatchlab('policies', '--colour');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("unknown option '--colour'");
  });
});
