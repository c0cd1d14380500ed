/**
 * Policy errors as log lines: a throwing pick fails every request, so each distinct message is
 * written the first time and then every 1000th time with its count, and the log stays readable.
 * The live dispatcher and `simulate` both log through it.
 */
export function createPolicyErrorLog(write: (line: string) => void = (line) => process.stderr.write(line)): (message: string) => void {
  const seen = new Map<string, number>();
  return (message) => {
    const count = (seen.get(message) ?? 0) + 1;
    seen.set(message, count);
    if (count === 1) write(`dispatchlab: policy error (request failed with 500): ${message}\n`);
    else if (count % 1000 === 0) write(`dispatchlab: policy error, ${count} times so far: ${message}\n`);
  };
}
