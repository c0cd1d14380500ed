import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * Four projects, by cost and determinism; a test file's folder says which (test/README.md):
 * - unit: virtual time and in-process code only; the default, fast.
 * - validation (test/validation/): long seeded simulations against queueing theory and published
 *   results; CPU-bound but deterministic, so it shares the first group with unit.
 * - integration (test/integration/, test/compose/): real sockets, processes and wall time; after
 *   the CPU-bound group, one file at a time, with timeouts sized for a busy machine.
 * - cli (test/cli/): one spawn of the built CLI per command; builds dist/ first.
 * `npm test` runs all four; `npm run test:<project>` runs one.
 *
 * Files of a project share their worker's module cache (isolate: false): loading the modules
 * again for every file cost several seconds per file on a busy 2-core machine, more than most
 * files' tests. So a test must leave module-level state as it found it (restore what it mocks or
 * sets in process.env), which the suite's tests do.
 */

const INTEGRATION = ['test/integration/**/*.test.ts', 'test/compose/**/*.test.ts'];
const VALIDATION = ['test/validation/**/*.test.ts'];
const CLI = ['test/cli/**/*.test.ts'];

export default defineConfig({
  test: {
    environment: 'node',
    pool: 'forks',
    isolate: false,
    // Every core but one for the CPU-bound group, and never fewer than two (vitest's default, one
    // worker on a 2-core machine, leaves a core idle while the longest simulations run).
    maxWorkers: Math.max(2, availableParallelism() - 1),
    coverage: { provider: 'v8', include: ['{core,dispatcher,backends,policies,loadtest,sim,report,cli}/**/*.ts'] },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: [...INTEGRATION, ...VALIDATION, ...CLI],
          // Virtual time: a unit test's duration is CPU only, so this only catches a hang.
          testTimeout: 30_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'validation',
          include: VALIDATION,
          // Millions of simulated requests; several times the quiet-machine time, for a busy one.
          testTimeout: 300_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: INTEGRATION,
          // One file at a time, after the CPU-bound group: a test's servers, load generator and
          // timers then share the machine only with each other. Timeouts are generous because a
          // stalled event loop on a busy machine delays every timer; the tests assert orderings,
          // plans and decisions, never a speed, so slowness costs time, not a failure.
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 60_000,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: 'cli',
          include: CLI,
          globalSetup: ['test/cli/build.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 60_000,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
