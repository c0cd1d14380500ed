import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSweepOnWorkers, simulateOnWorkers } from '../../cli/sim-workers.js';
import type { PolicySpec } from '../../core/scenario.js';
import { loadPolicyFiles } from '../../policies/index.js';
import { simulate, type SimProgress } from '../../sim/simulation.js';
import { runSweepPoint } from '../../sim/sweep.js';
import { homogeneous } from './fixtures.js';

/**
 * `simulate` and `simulate --sweep` on worker threads (cli/sim-workers.ts): the very same report as
 * in this thread, policy files included (a worker loads them into its own registry), progress for
 * every policy, and a failing worker ends the run with its reason instead of hanging it.
 */

const dir = mkdtempSync(join(tmpdir(), 'dispatchlab-sim-workers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const slowAware: PolicySpec = { file: resolve('examples/policies/slow-aware.ts'), options: {} };
/** A policy file whose create() throws: its run fails in the worker. */
const broken: PolicySpec = { file: join(dir, 'broken.mjs'), options: {} };
writeFileSync(
  broken.file,
  [
    "import { z } from 'dispatchlab/policy';",
    "export default { name: 'broken', summary: 'test', options: z.strictObject({}), create() { throw new Error('cannot start'); } };",
  ].join('\n'),
);

/** A policy file whose create() ends its thread: in a worker, process.exit ends the worker, not the process. */
const exits: PolicySpec = { file: join(dir, 'exits.mjs'), options: {} };
writeFileSync(
  exits.file,
  [
    "import { z } from 'dispatchlab/policy';",
    "import { isMainThread } from 'node:worker_threads';",
    "export default { name: 'exits', summary: 'test', options: z.strictObject({}), create() { if (!isMainThread) process.exit(3); throw new Error('not in a worker'); } };",
  ].join('\n'),
);

beforeAll(async () => {
  expect(await loadPolicyFiles([slowAware, broken, exits], 'policies')).toEqual([]);
});

describe('simulate on worker threads', () => {
  it('gives the same report as one policy after the other in this thread, a policy file included, with progress for every policy', async () => {
    const scenario = homogeneous({ replicas: 4, utilisation: 0.7, policies: ['random', 'least-loaded'] });
    const policies: PolicySpec[] = ['random', slowAware, 'least-loaded'];
    const progress: SimProgress[] = [];
    const onWorkers = await simulateOnWorkers(scenario, { policies, requests: 3000, onProgress: (p) => progress.push(p) }, 2);
    const inThread = simulate(scenario, { policies, requests: 3000 });
    expect(onWorkers).toEqual(inThread);
    expect(onWorkers.runs.map((r) => r.policy)).toEqual(['random', 'slow-aware', 'least-loaded']);
    const finished = progress.filter((p) => p.done);
    expect(finished.map((p) => p.policyIndex).sort()).toEqual([0, 1, 2]);
    for (const p of finished) {
      expect(p).toMatchObject({ policies: 3, fraction: 1, policy: onWorkers.runs[p.policyIndex].policy });
      expect(p.issued).toBeGreaterThanOrEqual(3000);
    }
  });

  it('fails with the policy and its reason when a worker cannot run it', async () => {
    const scenario = homogeneous({ replicas: 4, utilisation: 0.5 });
    await expect(simulateOnWorkers(scenario, { policies: ['random', broken], requests: 1000 }, 2)).rejects.toThrow(/^policy 2 of 2: .*cannot start/);
  });

  it('fails, instead of waiting for ever, when a worker thread ends before its work is done', async () => {
    const scenario = homogeneous({ replicas: 4, utilisation: 0.5 });
    await expect(simulateOnWorkers(scenario, { policies: ['random', exits], requests: 1000 }, 2)).rejects.toThrow(/worker thread exited with code 3 before its work was done/);
  });

  it('refuses bad options before starting a worker', async () => {
    const scenario = homogeneous({ replicas: 4, utilisation: 0.5 });
    await expect(simulateOnWorkers(scenario, { policies: ['random', 'least-loaded'], requests: 0 }, 2)).rejects.toThrow(/requests must be a positive integer/);
  });
});

describe('a sweep on worker threads', () => {
  it('runs a policy file as in this thread (each worker loads it)', async () => {
    const scenario = homogeneous({ replicas: 4, utilisation: 0.5 });
    const policies: PolicySpec[] = ['random', slowAware];
    const rates = [100, 300];
    const onWorkers = await runSweepOnWorkers(scenario, rates, policies, 1500, undefined, 2);
    expect(onWorkers).toEqual(rates.map((r) => runSweepPoint(scenario, r, policies, 1500)));
    expect(onWorkers[0].runs.map((r) => r.policy)).toEqual(['random', 'slow-aware']);
  });
});
