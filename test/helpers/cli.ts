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
  /** Codes passed to exit (a command's signal handler ends the process through it). */
  readonly exits: number[];
}

export function captureIo(): CapturedIo {
  let out = '';
  let err = '';
  const exits: number[] = [];
  return {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text) },
    exit: (code) => void exits.push(code),
    stdoutText: () => out,
    stderrText: () => err,
    exits,
  };
}

export async function dispatchlab(...args: string[]): Promise<CliRun> {
  const io = captureIo();
  const code = await run(args, io);
  return { code, stdout: io.stdoutText(), stderr: io.stderrText() };
}
