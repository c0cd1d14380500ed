import { availableParallelism } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { PolicySpec, Scenario } from '../core/scenario.js';
import type { SweepPoint } from '../sim/sweep.js';

/**
 * The points of a sweep on worker threads, one per core (no more than there are points): each
 * point is an independent simulation, so they scale with the cores. Results come back in point
 * order whatever order they finish in. Works from the build and from source under tsx.
 */

/**
 * From source (tsx), a worker thread does not inherit the parent's --import loader on Node 20, so
 * the worker first registers tsx's loader itself, then imports the TypeScript entry.
 */
function startWorker(file: string, ext: string, workerData: unknown): Worker {
  if (ext !== '.ts') return new Worker(file, { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(pathToFileURL(file).href)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

export async function runSweepOnWorkers(
  scenario: Scenario,
  rates: readonly number[],
  policies: readonly PolicySpec[],
  requests: number,
  onPoint?: (done: number, total: number) => void,
  threads = Math.min(availableParallelism(), rates.length),
): Promise<SweepPoint[]> {
  const here = fileURLToPath(import.meta.url);
  const ext = extname(here);
  const file = join(dirname(here), `sweep-worker${ext}`);
  const results: SweepPoint[] = new Array<SweepPoint>(rates.length);
  let next = 0;
  let done = 0;
  const workerData = { scenario, policies, requests };
  const workers = Array.from({ length: Math.max(1, threads) }, () => startWorker(file, ext, workerData));
  try {
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            const send = (): void => {
              if (next >= rates.length) return resolve();
              const index = next++;
              worker.postMessage({ index, rateRps: rates[index] });
            };
            worker.on('message', (msg: { index: number; point?: SweepPoint; error?: string }) => {
              if (msg.error !== undefined) return reject(new Error(`sweep point at ${rates[msg.index]} req/s: ${msg.error}`));
              results[msg.index] = msg.point as SweepPoint;
              onPoint?.(++done, rates.length);
              send();
            });
            worker.on('error', reject);
            send();
          }),
      ),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results;
}
