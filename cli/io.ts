/**
 * Where a command writes, how it learns it should stop, and how it ends the process. `dispatchlab`
 * passes the process's own (processIo); tests pass captured streams, stop a running server
 * themselves and record the exit code, so every command runs in process under test.
 */

export interface Output {
  write(text: string): unknown;
  /** A terminal gets progress bars and colour; anything else gets plain lines. */
  readonly isTTY?: boolean;
}

export interface CliIo {
  readonly stdout: Output;
  readonly stderr: Output;
  /** Call `stop` when the user asks the process to end (SIGTERM, SIGINT): servers close on it. */
  onStop(stop: (signal: NodeJS.Signals) => void): void;
  /** End the process; called when a command is done for good (after a stop, or with an error). */
  exit(code: number): void;
  /** The command finished, but the process must end with `code` (an SLO missed: 1; interrupted: 130). */
  fail(code: number): void;
}

export const processIo: CliIo = {
  stdout: process.stdout,
  stderr: process.stderr,
  onStop(stop) {
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  },
  exit: (code) => process.exit(code),
  fail: (code) => {
    process.exitCode = code;
  },
};

/** A real terminal stream: cli-progress draws on it. */
export function isTerminal(out: Output): out is NodeJS.WriteStream {
  return out.isTTY === true;
}
