import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';

/** The built CLI as a user runs it: a real process of dist/cli/main.js, its output and exit code. */

export const BUILT_CLI = resolve('dist/cli/main.js');

export interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Started {
  readonly child: ChildProcessWithoutNullStreams;
  /** Resolves when the process exits, with all it printed. */
  readonly exited: Promise<Finished>;
  /** Resolves with stdout so far once `pattern` matches it; rejects if the process exits first. */
  printed(pattern: RegExp): Promise<string>;
}

const started = new Set<ChildProcessWithoutNullStreams>();

/** Kill whatever a failed test left running (for afterAll). */
export function killLeftovers(): void {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

export function start(args: readonly string[], opts: { env?: NodeJS.ProcessEnv; script?: string } = {}): Started {
  const child = spawn(process.execPath, [opts.script ?? BUILT_CLI, ...args], { stdio: 'pipe', env: { ...process.env, ...opts.env } });
  started.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = once(child, 'exit').then(([code]) => ({ code: code as number | null, stdout, stderr }));
  const printed = (pattern: RegExp): Promise<string> =>
    new Promise((ready, fail) => {
      const check = (): void => {
        if (pattern.test(stdout)) ready(stdout);
      };
      child.stdout.on('data', check);
      check();
      void exited.then((f) => fail(new Error(`exited with ${f.code} before printing ${pattern}:\n${f.stdout}${f.stderr}`)));
    });
  return { child, exited, printed };
}

/** Run to completion. */
export function runBuilt(args: readonly string[], opts: { script?: string } = {}): Promise<Finished> {
  return start(args, opts).exited;
}
