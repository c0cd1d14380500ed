import { createRng, type Rng } from '../../core/rng.js';
import type { BackendId } from '../../core/types.js';
import { createPolicy } from '../../policies/index.js';
import { backend, type TestBackend } from '../../policies/contract.js';
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

/**
 * A random history of the changes the Balancer puts a policy through, one `step()` at a time, each
 * change announced (`announce`): now and then every backend healthy again at the mix's weights (long
 * all-eligible stretches follow), a health flip, a weight change (to a weight of the mix or the
 * first plus one), a backend added or removed. `view` is changed in place, as the Balancer keeps one
 * list, so only the announcement says it changed; `removed` lists the ids gone (and one never there).
 */
export function randomHistory(rng: Rng, view: TestBackend[], weights: readonly number[], announce: () => void): { step(): void; readonly removed: string[] } {
  const removed = ['gone'];
  let added = 0;
  const step = (): void => {
    const u = rng.next();
    const b = view[rng.int(view.length)];
    if (u < 0.01) {
      view.forEach((x, i) => Object.assign(x, { state: 'healthy', healthy: true, weight: weights[i % weights.length] }));
    } else if (u < 0.02) {
      b.state = b.state === 'healthy' ? 'draining' : 'healthy';
      b.healthy = b.state === 'healthy';
    } else if (u < 0.025) {
      b.weight = [...weights, weights[0] + 1][rng.int(weights.length + 1)];
    } else if (u < 0.03) {
      view.push(backend(`new${added++}`, { weight: weights[0] }));
    } else if (u < 0.035 && view.length > 2) {
      view.splice(view.indexOf(b), 1);
      removed.push(b.id);
    } else return;
    announce();
  };
  return { step, removed };
}
