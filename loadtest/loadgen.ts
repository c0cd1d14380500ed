import { fork } from 'node:child_process';
import { childEntry } from './child-entry.js';
import type { LoadHooks, LoadPlan, LoadResult } from './load-plan.js';
import type { FromChild, ToChild } from './loadgen-messages.js';

/**
 * Runs a load plan in a child process (loadgen-process), so the generator and the system under
 * test never share an event loop (child-entry.ts: from the build or from source).
 */

export interface ChildLoadResult extends LoadResult {
  readonly pid: number;
}

/** Rejected with this when the caller's signal aborts the run (the child is killed). */
export class LoadAborted extends Error {
  override name = 'LoadAborted';
}

export function runLoadInChild(plan: LoadPlan, hooks: LoadHooks = {}, signal?: AbortSignal): Promise<ChildLoadResult> {
  const { file, execArgv } = childEntry('loadgen-process');
  const child = fork(file, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
  const pid = child.pid ?? -1;
  const tell = (msg: ToChild): void => void child.send(msg);
  return new Promise<ChildLoadResult>((resolve, reject) => {
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      child.kill();
      reject(err);
    };
    /** Run the parent's hook for a phase the child waits on, then let the child go on. */
    const relay = (hook: (() => Promise<void>) | undefined, go: 'start' | 'measure'): void => {
      (hook?.() ?? Promise.resolve()).then(
        () => tell({ type: go }),
        (err: unknown) => fail(err instanceof Error ? err : new Error(String(err))),
      );
    };
    child.on('message', (msg: FromChild) => {
      switch (msg.type) {
        case 'tick':
          hooks.onTick?.(msg.tick);
          break;
        case 'ready':
          relay(hooks.beforeWarmup, 'start');
          break;
        case 'warm':
          relay(hooks.beforeMeasure, 'measure');
          break;
        case 'done':
          settled = true;
          resolve({ ...msg.result, pid });
          break;
        case 'error':
          fail(new Error(`load generator: ${msg.message}`));
          break;
      }
    });
    if (signal?.aborted) fail(new LoadAborted('load aborted'));
    signal?.addEventListener('abort', () => fail(new LoadAborted('load aborted')), { once: true });
    child.on('error', (err) => fail(new Error(`load generator process: ${err.message}`)));
    child.on('exit', (code, signal) => fail(new Error(`load generator exited (${signal ?? `code ${code}`}) before reporting`)));
    tell({ type: 'run', plan });
  });
}
