#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { registerValidate } from './validate.js';
import { registerPolicies } from './policies.js';
import { registerHost } from './host.js';
import { registerDispatcher } from './dispatcher.js';
import { registerUp } from './up.js';
import { registerSimulate } from './simulate.js';
import { registerCompare } from './compare.js';
import { registerLoad } from './load.js';
import { CliError } from './errors.js';
import { packageVersion } from './version.js';
import { ScenarioError } from '../core/scenario.js';

/**
 * `dispatchlab`: one program, one subcommand per job (DESIGN.md, "Interfaces people use"). Each
 * command lives in a file of its own in cli/ and registers itself here. Bad input exits 2 with a message,
 * never a stack trace.
 */
const program = new Command('dispatchlab')
  .description('Load-balancer simulator: a dispatcher in front of replicas that are VMs on a simulated hypervisor')
  .version(packageVersion(), '-V, --version', 'print the version')
  .showHelpAfterError()
  // Usage errors throw instead of exiting 1, so they exit 2 like every other bad input (below).
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(text) });

registerValidate(program);
registerPolicies(program);
registerHost(program);
registerDispatcher(program);
registerUp(program);
registerSimulate(program);
registerCompare(program);
registerLoad(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  // Commander has printed its message (or the help, or the version) already.
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  if (err instanceof ScenarioError || err instanceof CliError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`dispatchlab: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
