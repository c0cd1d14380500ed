import { createRng } from '../../core/rng.js';
import type { BackendId } from '../../core/types.js';
import { createPolicy } from '../../policies/index.js';
import type { TestBackend } from '../../policies/contract.js';
import type { BackendView, Policy } from '../../policies/policy.js';
import type { PolicySpec } from '../../core/scenario.js';

export { backend, backends, byId, drive, type TestBackend } from '../../policies/contract.js';

export function policy(spec: PolicySpec, seed = 1): Policy {
  return createPolicy(spec, { rng: createRng(seed) });
}

/** Tally of `picks` calls of `pick` (no dispatch), as fractions per backend id. */
export function shares(picks: number, pick: (i: number) => BackendId | undefined): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < picks; i++) {
    const id = pick(i) ?? 'none';
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return new Map([...counts].map(([id, n]) => [id, n / picks]));
}

export const views = (v: TestBackend[]): readonly BackendView[] => v;
