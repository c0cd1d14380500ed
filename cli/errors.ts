/** Bad input on the command line: printed as is, exit code 2, no stack trace. */
export class CliError extends Error {
  override name = 'CliError';
}
