import { availableParallelism } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Report } from '../core/report.js';
import type { PolicySpec, Scenario } from '../core/scenario.js';
import type { Millis } from '../core/types.js';
import { checkOptions, policyProgress, simulationReport, type PolicyRunResult, type SimulateOptions } from '../sim/simulation.js';
import type { SweepPoint } from '../sim/sweep.js';

/**
 * Independent simulations on worker threads, one per core: the policies of `simulate` (each policy
 * run starts from its own fresh clock, fleet and Rng, so they need not wait for one another) and
 * the points of `simulate --sweep`. Every worker loads the policy files of the run itself (a
 * worker has its own module registry) and runs the tasks it is sent one at a time; the results
 * come back in task order whatever order they finish in, so a report is the same, to the bit, as
 * one made in this thread. Works from the build and from source under tsx.
 *
 * Each worker holds its own fleet while it runs a task: peak memory grows with the number of
 * threads (at 10,000 VMs about 330 MB each), which `--jobs` bounds.
 */

/** What a worker is asked to run: task i is policy i, or sweep point i. */
export type SimJob =
  | {
      readonly kind: 'policies';
      readonly scenario: Scenario;
      readonly policies: readonly PolicySpec[];
      readonly options: Pick<SimulateOptions, 'requests' | 'durationMs' | 'dispatchers'>;
    }
  | { readonly kind: 'sweep'; readonly scenario: Scenario; readonly policies: readonly PolicySpec[]; readonly requests: number; readonly rates: readonly number[] };

/** A worker's messages about task `index`: its progress (policies), its result, or why it failed. */
export type SimWorkerMessage =
  | { readonly index: number; readonly progress: { issued: number; simulatedMs: Millis; done: boolean } }
  | { readonly index: number; readonly result: PolicyRunResult | SweepPoint }
  | { readonly index: number; readonly error: string };

/** Threads for `tasks` tasks: one per core, at most one per task, at least one. */
export function defaultThreads(tasks: number): number {
  return Math.max(1, Math.min(availableParallelism(), tasks));
}

/**
 * From source (tsx), a worker thread does not inherit the parent's --import loader on Node 20, so
 * the worker first registers tsx's loader itself, then imports the TypeScript entry.
 */
function startWorker(job: SimJob): Worker {
  const here = fileURLToPath(import.meta.url);
  const ext = extname(here);
  const file = join(dirname(here), `sim-worker${ext}`);
  if (ext !== '.ts') return new Worker(file, { workerData: job });
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(pathToFileURL(file).href)}); })`;
  return new Worker(boot, { eval: true, workerData: job });
}

/** Run tasks 0..count-1 of `job` on `threads` workers; results in task order. */
async function runOnWorkers<R>(
  job: SimJob,
  count: number,
  threads: number,
  onMessage: (msg: SimWorkerMessage) => void,
  describe: (index: number) => string,
): Promise<R[]> {
  const results = new Array<R>(count);
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(threads, count)) }, () => startWorker(job));
  try {
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            let finished = false;
            const send = (): void => {
              if (next >= count) {
                finished = true;
                resolve();
                return;
              }
              worker.postMessage({ index: next++ });
            };
            worker.on('message', (msg: SimWorkerMessage) => {
              if ('error' in msg) {
                reject(new Error(`${describe(msg.index)}: ${msg.error}`));
                return;
              }
              onMessage(msg);
              if ('result' in msg) {
                results[msg.index] = msg.result as R;
                send();
              }
            });
            worker.on('error', reject);
            // A worker that ends before its tasks are done (out of memory, say) fails the run, never hangs it.
            worker.on('exit', (code) => {
              if (!finished) reject(new Error(`a simulation worker thread exited with code ${code} before its work was done`));
            });
            send();
          }),
      ),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results;
}

/**
 * `simulate` with its policies run at once on `threads` worker threads: the same Report as
 * simulate(scenario, opts), progress included. Callbacks other than onProgress cannot cross to a
 * worker; each worker logs its own policy errors (as simulate's caller in this thread would).
 */
export async function simulateOnWorkers(
  scenario: Scenario,
  opts: Pick<SimulateOptions, 'policies' | 'requests' | 'durationMs' | 'dispatchers' | 'onProgress'>,
  threads: number,
): Promise<Report> {
  checkOptions(scenario, opts);
  const policies = opts.policies ?? scenario.policies;
  const job: SimJob = {
    kind: 'policies',
    scenario,
    policies,
    options: { requests: opts.requests, durationMs: opts.durationMs, dispatchers: opts.dispatchers },
  };
  const progress = policyProgress(scenario, opts);
  const results = await runOnWorkers<PolicyRunResult>(
    job,
    policies.length,
    threads,
    (msg) => {
      if ('progress' in msg) progress(msg.index)(msg.progress.issued, msg.progress.simulatedMs, msg.progress.done);
    },
    (index) => `policy ${index + 1} of ${policies.length}`,
  );
  return simulationReport(scenario, opts, results);
}

/** The points of a sweep on `threads` worker threads; `onPoint` hears each as it finishes. */
export function runSweepOnWorkers(
  scenario: Scenario,
  rates: readonly number[],
  policies: readonly PolicySpec[],
  requests: number,
  onPoint?: (done: number, total: number) => void,
  threads = defaultThreads(rates.length),
): Promise<SweepPoint[]> {
  let done = 0;
  return runOnWorkers<SweepPoint>(
    { kind: 'sweep', scenario, policies, requests, rates },
    rates.length,
    threads,
    (msg) => {
      if ('result' in msg) onPoint?.(++done, rates.length);
    },
    (index) => `sweep point at ${rates[index]} req/s`,
  );
}
