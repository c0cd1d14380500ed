import { parentPort, workerData } from 'node:worker_threads';
import type { PolicySpec, Scenario } from '../core/scenario.js';
import { runSweepPoint } from '../sim/sweep.js';

/** A worker thread of `simulate --sweep` (sweep-workers.ts): runs the points it is sent, one at a time. */

interface Job {
  readonly index: number;
  readonly rateRps: number;
}

const { scenario, policies, requests } = workerData as { scenario: Scenario; policies: PolicySpec[]; requests: number };
parentPort?.on('message', (job: Job) => {
  try {
    parentPort?.postMessage({ index: job.index, point: runSweepPoint(scenario, job.rateRps, policies, requests) });
  } catch (err) {
    parentPort?.postMessage({ index: job.index, error: err instanceof Error ? err.message : String(err) });
  }
});
