/** Bad input on the command line: printed as is, exit code 2, no stack trace. */
export class CliError extends Error {
  override name = 'CliError';
}

/** The exit code of a run stopped by Ctrl-C (SIGINT): 128 + 2, as shells report it. */
export const INTERRUPTED_EXIT = 130;
