import type { Scenario, ScenarioIssue, PolicySpec } from '../core/scenario.js';
import { policyName, policyOptions } from '../core/scenario.js';
import { formatIssues, formatPath } from '../core/scenario.js';
import { consistentHash } from './consistent-hash.js';
import { joinIdleQueue } from './join-idle-queue.js';
import { leastLoaded } from './least-loaded.js';
import { peakEwma } from './peak-ewma.js';
import type { Policy, PolicyDefinition, PolicyDeps } from './policy.js';
import { loadedPolicyFile, loadPolicyFile, PolicyFileError } from './policy-file.js';
import { powerOfTwo } from './power-of-two.js';
import { random } from './random.js';
import { roundRobin } from './round-robin.js';
import { sessionSticky } from './session-sticky.js';

/**
 * The policy registry: a plain map from name to definition (no registration by side-effect
 * import, which tree-shaking and test isolation break).
 */
export const POLICIES: Readonly<Record<string, PolicyDefinition>> = {
  'round-robin': roundRobin,
  'least-loaded': leastLoaded,
  'session-sticky': sessionSticky,
  random,
  'power-of-two': powerOfTwo,
  'peak-ewma': peakEwma,
  'consistent-hash': consistentHash,
  'join-idle-queue': joinIdleQueue,
};

export function policyNames(): string[] {
  return Object.keys(POLICIES);
}

/** Own keys only: `__proto__` or `toString` is an unknown policy, not Object.prototype's. */
export function policyDefinition(name: string): PolicyDefinition | undefined {
  return Object.hasOwn(POLICIES, name) ? POLICIES[name] : undefined;
}

/** The definition of an entry: a built-in by name, or a policy file loadPolicyFiles has loaded. */
function definitionOf(spec: PolicySpec): PolicyDefinition {
  if (typeof spec === 'object' && 'file' in spec) return loadedPolicyFile(spec.file);
  const name = policyName(spec);
  const def = policyDefinition(name);
  if (!def) throw new Error(`unknown policy "${name}" (known: ${policyNames().join(', ')})`);
  return def;
}

/** Build a policy from a scenario entry; throws a readable Error on an unknown name or bad options. */
export function createPolicy(spec: PolicySpec, deps: PolicyDeps): Policy {
  const name = policyName(spec);
  const def = definitionOf(spec);
  const parsed = def.options.safeParse(policyOptions(spec));
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new Error(`policy "${name}": ${formatPath(first.path)}: ${first.message}`);
  }
  return def.create(parsed.data, deps);
}

/**
 * Scenario check: every listed built-in exists and its options validate. Policy files are checked
 * by loadPolicyFiles, which must import them first (asynchronously).
 */
export function checkPolicySpecs(s: Scenario): ScenarioIssue[] {
  const issues: ScenarioIssue[] = [];
  s.policies.forEach((spec, i) => {
    if (typeof spec === 'object' && 'file' in spec) return;
    const name = policyName(spec);
    const def = policyDefinition(name);
    if (!def) {
      issues.push({ path: `policies[${i}]`, message: `"${name}" is not a known policy (known: ${policyNames().join(', ')})` });
      return;
    }
    issues.push(...optionIssues(def, spec, `policies[${i}]`));
  });
  return issues;
}

/** The entry's option issues, each at `<path>.options.<field>` (at `options.<field>` when `path` is ''). */
function optionIssues(def: PolicyDefinition, spec: PolicySpec, path: string): ScenarioIssue[] {
  const parsed = def.options.safeParse(policyOptions(spec), { reportInput: true });
  if (parsed.success) return [];
  // Worded as the scenario's own fields are (formatIssues), a built-in's options and a file's alike.
  const options = path === '' ? 'options' : `${path}.options`;
  return formatIssues(parsed.error.issues).map((issue) => ({ path: issue.path === '' ? options : issue.path.startsWith('[') ? `${options}${issue.path}` : `${options}.${issue.path}`, message: issue.message }));
}

/** A policy file's load error (at `path`: the message names the file and line) or option issues. */
async function policyFileIssues(spec: PolicySpec & { file: string }, path: string, fresh: boolean): Promise<ScenarioIssue[]> {
  try {
    return optionIssues(await loadPolicyFile(spec.file, fresh), spec, path);
  } catch (err) {
    if (!(err instanceof PolicyFileError)) throw err;
    return [{ path, message: err.message }];
  }
}

/**
 * Import the policy files among `specs` (each once per process) and check their
 * options, so that createPolicy can build them synchronously. Issues are named `<where>[i]` like
 * the scenario's.
 */
export async function loadPolicyFiles(specs: readonly PolicySpec[], where = 'policies'): Promise<ScenarioIssue[]> {
  const issues: ScenarioIssue[] = [];
  for (const [i, spec] of specs.entries()) {
    if (typeof spec === 'object' && 'file' in spec) issues.push(...(await policyFileIssues(spec, `${where}[${i}]`, false)));
  }
  return issues;
}

/**
 * Import the one policy file of a caller that has no list to index (the admin API's PUT /policy, a
 * dispatcher worker, check-policy) and check its options: each problem as a line of its own, a load
 * error naming the file and line, an option issue its field (`options.slowMs: ...`).
 */
export async function policyFileProblems(spec: PolicySpec & { file: string }, fresh = false): Promise<string[]> {
  return (await policyFileIssues(spec, '', fresh)).map((i) => (i.path === '' ? i.message : `${i.path}: ${i.message}`));
}
