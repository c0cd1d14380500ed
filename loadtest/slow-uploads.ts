import { fork } from 'node:child_process';
import { childEntry } from './child-entry.js';
import type { FromSlowUploads, SlowUploadPlan, SlowUploadReport, ToSlowUploads } from './slow-uploads-messages.js';

/**
 * The chaos run's slow uploads in a child process (slow-uploads-process.ts), so the thousand
 * uploaders' sockets and timers cost the dispatcher's event loop nothing and the run measures the
 * dispatcher, not the rig. Forked (and its start-up paid) before the measurement; 'start' opens
 * the uploads; 'stop' closes them and reports how they ended, and the child is then killed by its
 * PID whether or not it reported.
 */
export interface SlowUploadsChild {
  readonly pid: number;
  start(plan: SlowUploadPlan): void;
  /** Close the uploads and report; rejects if the child does not report within `withinMs`. */
  stop(withinMs: number): Promise<SlowUploadReport>;
}

export async function forkSlowUploads(): Promise<SlowUploadsChild> {
  const { file, execArgv } = childEntry('slow-uploads-process');
  const child = fork(file, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pid = child.pid ?? -1;
  const tell = (msg: ToSlowUploads): void => void child.send(msg);
  let exited = false;
  child.once('exit', () => (exited = true));
  /** What the child last reported going wrong (it exits after it). */
  let failure = '';
  child.on('message', (msg: FromSlowUploads) => msg.type === 'error' && (failure = `: ${msg.message}`));
  const kill = (): void => {
    if (exited || pid <= 0) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // It exited between its last message and now.
    }
  };
  /** The child's next message of `type`; rejected when it exits first or is silent for `withinMs`. */
  const next = <T extends FromSlowUploads['type']>(type: T, withinMs: number): Promise<Extract<FromSlowUploads, { type: T }>> =>
    new Promise((resolve, reject) => {
      const settle = (err?: Error, msg?: FromSlowUploads): void => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        if (err) reject(err);
        else resolve(msg as Extract<FromSlowUploads, { type: T }>);
      };
      const onMessage = (msg: FromSlowUploads): void => {
        if (msg.type === type) settle(undefined, msg);
      };
      const onExit = (code: number | null, signal: string | null): void =>
        settle(new Error(`slow-upload process exited (${signal ?? `code ${code}`}) before '${type}'${failure}`));
      const timer = setTimeout(() => settle(new Error(`slow-upload process: no '${type}' within ${withinMs} ms`)), withinMs);
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  try {
    await next('ready', 60_000);
  } catch (err) {
    kill();
    throw err;
  }
  return {
    pid,
    start: (plan) => tell({ type: 'start', plan }),
    stop: async (withinMs) => {
      const done = next('done', withinMs);
      tell({ type: 'stop' });
      try {
        return (await done).report;
      } finally {
        kill();
      }
    },
  };
}
