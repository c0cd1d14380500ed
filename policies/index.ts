import type { Scenario, ScenarioIssue, PolicySpec } from '../core/scenario.js';
import { policyName, policyOptions } from '../core/scenario.js';
import { formatPath } from '../core/scenario.js';
import { consistentHash } from './consistent-hash.js';
import { joinIdleQueue } from './join-idle-queue.js';
import { leastLoaded } from './least-loaded.js';
import { peakEwma } from './peak-ewma.js';
import type { Policy, PolicyDefinition, PolicyDeps } from './policy.js';
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

/** Build a policy from a scenario entry; throws a readable Error on an unknown name or bad options. */
export function createPolicy(spec: PolicySpec, deps: PolicyDeps): Policy {
  const name = policyName(spec);
  const def = policyDefinition(name);
  if (!def) throw new Error(`unknown policy "${name}" (known: ${policyNames().join(', ')})`);
  const parsed = def.options.safeParse(policyOptions(spec));
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new Error(`policy "${name}": ${formatPath(first.path)}: ${first.message}`);
  }
  return def.create(parsed.data, deps);
}

/** Scenario check: every listed policy exists and its options validate. */
export function checkPolicySpecs(s: Scenario): ScenarioIssue[] {
  const issues: ScenarioIssue[] = [];
  s.policies.forEach((spec, i) => {
    const name = policyName(spec);
    const def = policyDefinition(name);
    if (!def) {
      issues.push({ path: `policies[${i}]`, message: `"${name}" is not a known policy (known: ${policyNames().join(', ')})` });
      return;
    }
    const parsed = def.options.safeParse(policyOptions(spec));
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        issues.push({ path: `policies[${i}].options${issue.path.length ? '.' + formatPath(issue.path) : ''}`, message: issue.message });
      }
    }
  });
  return issues;
}
