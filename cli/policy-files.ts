import { resolve } from 'node:path';
import type { PolicySpec } from '../core/scenario.js';
import { loadPolicyFiles } from '../policies/index.js';
import { isPolicyFile } from '../policies/policy-file.js';
import { CliError } from './errors.js';

/**
 * Policy files named on the command line (`--policies ./mine.ts`, `--policy ./mine.ts`,
 * `check-policy ./mine.ts`): relative to the working directory, as a shell user expects (a
 * scenario's `file:` entries are relative to the scenario file).
 */
export function policyFileSpec(text: string): Extract<PolicySpec, { file: string }> | undefined {
  return isPolicyFile(text) ? { file: resolve(text), options: {} } : undefined;
}

/** Import the policy files among `specs` and check their options; any problem exits 2 with file and line. */
export async function loadPolicies(specs: readonly PolicySpec[], where: string): Promise<void> {
  const issues = await loadPolicyFiles(specs, where);
  if (issues.length > 0) throw new CliError(issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
}
