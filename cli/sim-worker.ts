import { parentPort, workerData } from 'node:worker_threads';
import { createPolicyErrorLog } from '../dispatcher/policy-error-log.js';
import { loadPolicyFiles } from '../policies/index.js';
import { runPolicy } from '../sim/simulation.js';
import { runSweepPoint } from '../sim/sweep.js';
import type { SimJob, SimWorkerMessage } from './sim-workers.js';

/**
 * A worker thread of sim-workers.ts: loads the run's policy files into its own module registry,
 * then runs the tasks it is sent (a policy, or a sweep point), one at a time.
 */

const job = workerData as SimJob;
const post = (msg: SimWorkerMessage): void => parentPort?.postMessage(msg);
// The parent checked these files already; a worker that cannot load them says so per task.
const loaded = loadPolicyFiles(job.policies, 'policies');
const logPolicyError = createPolicyErrorLog();

async function run(index: number): Promise<void> {
  try {
    const issues = await loaded;
    if (issues.length > 0) throw new Error(issues.map((i) => `${i.path}: ${i.message}`).join('; '));
    if (job.kind === 'sweep') {
      post({ index, result: runSweepPoint(job.scenario, job.rates[index], job.policies, job.requests) });
      return;
    }
    const result = runPolicy(job.scenario, job.policies[index], { ...job.options, onPolicyError: logPolicyError }, (issued, simulatedMs, done) =>
      post({ index, progress: { issued, simulatedMs, done } }),
    );
    post({ index, result });
  } catch (err) {
    post({ index, error: err instanceof Error ? err.message : String(err) });
  }
}

parentPort?.on('message', ({ index }: { index: number }) => void run(index));
