import { run } from '../../cli/main.js';
import type { CliIo } from '../../cli/io.js';

/** `dispatchlab` in process: the real program and commands, with captured output and exit code. */

export interface CliRun {
  /** What the process would exit with (run's result). */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CapturedIo extends CliIo {
  stdoutText(): string;
  stderrText(): string;
  /** What a SIGTERM would do: call the command's stop handlers. */
  stop(signal?: NodeJS.Signals): void;
  /** Resolves with the first code the command ends the process with. */
  exited(): Promise<number>;
}

export function captureIo(): CapturedIo {
  let out = '';
  let err = '';
  const stops: Array<(signal: NodeJS.Signals) => void> = [];
  let exit: (code: number) => void = () => undefined;
  const exited = new Promise<number>((resolve) => (exit = resolve));
  return {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text) },
    onStop: (stop) => void stops.push(stop),
    exit: (code) => exit(code),
    // The exit code comes back from run(); nothing more to record here.
    fail: () => undefined,
    stdoutText: () => out,
    stderrText: () => err,
    stop: (signal = 'SIGTERM') => stops.splice(0).forEach((stop) => stop(signal)),
    exited: () => exited,
  };
}

export async function dispatchlab(...args: string[]): Promise<CliRun> {
  const io = captureIo();
  const code = await run(args, io);
  return { code, stdout: io.stdoutText(), stderr: io.stderrText() };
}
