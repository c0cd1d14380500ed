#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { registerCheckPolicy } from './check-policy.js';
import { packageVersion } from './version.js';
import { ScenarioError } from '../core/scenario.js';
import { registerCompare } from './compare.js';
import { registerDispatcher } from './dispatcher.js';
import { CliError } from './errors.js';
import { registerHost } from './host.js';
import { processIo, type CliIo } from './io.js';
import { registerLoad } from './load.js';
import { registerPolicies } from './policies.js';
import { registerSimulate } from './simulate.js';
import { registerUp } from './up.js';
import { registerValidate } from './validate.js';

/**
 * `dispatchlab`: one program, one subcommand per job (README.md, "Commands"). Each
 * command lives in a file of its own in cli/ and is one line of COMMANDS. Bad input exits 2 with
 * a message, never a stack trace.
 */

/** The commands, in the order `--help` lists them. A new command is one more entry. */
const COMMANDS: ReadonlyArray<(program: Command, io: CliIo) => void> = [
  registerValidate,
  registerPolicies,
  registerHost,
  registerDispatcher,
  registerUp,
  registerSimulate,
  registerCompare,
  registerLoad,
  registerCheckPolicy,
];

/**
 * The program, writing to `io`. Commander never exits the process itself (exitOverride, set before
 * the commands are added so they inherit it): it throws a CommanderError, which `run` turns into
 * an exit code and tests inspect.
 */
export function createProgram(io: CliIo = processIo): Command {
  const program = new Command('dispatchlab')
    .description('Load-balancer simulator: a dispatcher in front of replicas that are VMs on a simulated hypervisor')
    .version(packageVersion(), '-V, --version', 'print the version')
    .exitOverride()
    .showHelpAfterError()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => write(text),
    });
  for (const register of COMMANDS) register(program, io);
  return program;
}

/**
 * Run one command line (the arguments after `dispatchlab`) and say how it ended (docs: README,
 * "Exit codes"): 0 done (or a server started and still running), 1 an SLO missed (or a bug),
 * 2 bad input, usage errors included (commander has printed them), 130 interrupted.
 */
export async function run(args: readonly string[], io: CliIo = processIo): Promise<number> {
  let failed = 0;
  const tracked: CliIo = {
    ...io,
    fail(code) {
      failed = code;
      io.fail(code);
    },
  };
  try {
    await createProgram(tracked).parseAsync(args, { from: 'user' });
    return failed;
  } catch (err) {
    // Help and --version end with 0; every usage error exits 2, like any other bad input.
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof ScenarioError || err instanceof CliError) {
      io.stderr.write(`${err.message}\n`);
      return 2;
    }
    io.stderr.write(`dispatchlab: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}

// Run only as the program itself (the bin is a symlink, hence realpath), not when a test imports it.
if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const code = await run(process.argv.slice(2));
  // Servers keep the process alive after a 0; anything else ends it, once stdout has taken what
  // was written (a JSON report on a pipe).
  if (code !== 0) process.stdout.write('', () => processIo.exit(code));
}
