import { execFileSync } from 'node:child_process';

/**
 * globalSetup of the `cli` project: the smoke tests run the CLI users run, dist/cli/main.js, so
 * build it from this tree first (a stale dist would test old code).
 */
export default function build(): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
