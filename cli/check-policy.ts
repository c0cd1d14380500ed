import type { Command } from 'commander';
import { createRng } from '../core/rng.js';
import { parseScenario, policyLabel, type PolicySpec } from '../core/scenario.js';
import { runContract } from '../policies/contract.js';
import { createPolicy, policyFileProblems } from '../policies/index.js';
import { renderTable } from '../report/table.js';
import { simulate } from '../sim/simulation.js';
import { CliError } from './errors.js';
import { policyFileSpec } from './policy-files.js';

/**
 * `dispatchlab check-policy FILE [--options JSON]`: a user's policy file through the contract
 * every built-in passes (policies/contract.ts), then a quick simulation against round-robin on a
 * small heterogeneous fleet, through the same Balancer as live runs. Prints each rule and what
 * went wrong in plain words; exit 1 when something failed, 2 when the file cannot be loaded.
 */

/** Two fast VMs on a Type 1 host and an old one (binary translation, shadow page tables) on a busy Type 2 host. */
const CHECK_SCENARIO = {
  name: 'check-policy',
  seed: 1,
  hosts: [
    { name: 'fast', hypervisor: 'type1', cores: 4, memoryMb: 8192 },
    { name: 'busy', hypervisor: 'type2', cores: 2, memoryMb: 4096, hostLoad: 1 },
  ],
  vms: [
    { name: 'web', count: 2, host: 'fast', vcpus: 2, memoryMb: 2048 },
    { name: 'old', host: 'busy', vcpus: 1, memoryMb: 1024, virtualization: 'binary-translation', mmu: 'shadow' },
  ],
  workload: { classes: [{ name: 'page', share: 1, cpuMs: 8, ioOps: 20, pageTableUpdates: 100 }], sessions: 50, arrival: { rateRps: 250 } },
  policies: ['round-robin'],
  duration: '20s',
  warmup: '1s',
};
const CHECK_REQUESTS = 3000;

export function registerCheckPolicy(program: Command): void {
  program
    .command('check-policy')
    .description('check a policy file (.ts, .js): the contract every built-in passes, then a quick simulation against round-robin')
    .argument('<file>', 'policy file whose default export is a PolicyDefinition (import types from dispatchlab/policy)')
    .option('--options <json>', 'the policy\'s options as JSON (default: {})')
    .action(async (file: string, flags: { options?: string }) => {
      const spec = policyFileSpec(file);
      if (spec === undefined) throw new CliError(`${file}: expected a .ts, .mts, .js or .mjs file`);
      const withOptions = { ...spec, options: parseOptions(flags.options) };
      const problems = await policyFileProblems(withOptions);
      // An option's problem is named as given here: --options.slowMs.
      if (problems.length > 0) throw new CliError(problems.map((problem) => problem.replace(/^options\b/, '--options')).join('\n'));
      const ok = checkPolicy(withOptions, (line) => process.stdout.write(`${line}\n`));
      if (!ok) process.exitCode = 1;
    });
}

function parseOptions(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CliError(`--options: not JSON (${(err as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CliError('--options: expected a JSON object, e.g. {"slowMs": 40}');
  return value as Record<string, unknown>;
}

/** Run the checks on a loaded policy file, writing one line at a time; true when everything passed. */
export function checkPolicy(spec: PolicySpec, write: (line: string) => void): boolean {
  let failed = 0;
  const report = (ok: boolean, what: string, why?: string): void => {
    if (!ok) failed++;
    write(`  ${ok ? 'ok  ' : 'FAIL'}  ${what}${why === undefined ? '' : `\n        ${why}`}`);
  };
  write(`contract (${policyLabel(spec)}):`);
  for (const result of runContract((seed) => createPolicy(spec, { rng: createRng(seed) }))) report(result.failure === undefined, result.rule, result.failure);

  write(`quick simulation: ${CHECK_REQUESTS} requests at 250 req/s on 2 fast replicas and a slow one, against round-robin`);
  const policyErrors = new Map<string, number>();
  const sim = simulate(parseScenario(CHECK_SCENARIO, 'check-policy'), {
    policies: ['round-robin', spec],
    requests: CHECK_REQUESTS,
    onPolicyError: (message) => policyErrors.set(message, (policyErrors.get(message) ?? 0) + 1),
  });
  write(renderTable(sim, { color: false }));
  const run = sim.runs[1];
  const codes = Object.entries(run.errorsByCode ?? {}).map(([code, n]) => `${n} x ${code}`).join(', ');
  report(run.errors === 0, 'every request was answered', run.errors === 0 ? undefined : `${run.errors} of ${run.requests} requests failed (${codes})`);
  const errorCount = [...policyErrors.values()].reduce((a, b) => a + b, 0);
  report(
    errorCount === 0,
    'the policy never threw and never picked a backend it may not',
    errorCount === 0 ? undefined : [...policyErrors].map(([message, n]) => `${n} x ${message}`).join('\n        '),
  );
  write(failed === 0 ? 'all checks passed' : `${failed} check${failed === 1 ? '' : 's'} failed`);
  return failed === 0;
}
