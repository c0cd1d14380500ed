import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'dispatchlab-check-policy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { timeout: 90_000 });
}

describe('dispatchlab check-policy', () => {
  it('passes the shipped example: every rule ok, then the table against round-robin; exit 0', async () => {
    const { stdout } = await cli(['check-policy', 'examples/policies/slow-aware.ts', '--options', '{"slowMs": 30}']);
    expect(stdout).toMatch(/^contract \(slow-aware\):\n {2}ok {4}never picks/);
    expect(stdout).toMatch(/│ round-robin /);
    expect(stdout).toMatch(/all checks passed\n$/);
  });

  it('a pick that throws: each failed rule with the file and line, exit 1; a broken file: exit 2', async () => {
    const file = join(dir, 'throws.ts');
    writeFileSync(
      file,
      [
        "import { z, type PolicyDefinition } from 'dispatchlab/policy';",
        '',
        'const def: PolicyDefinition = {',
        "  name: 'throws', summary: '', options: z.strictObject({}),",
        '  create: () => ({',
        "    name: 'throws',",
        "    pick: () => { throw new Error('not written yet'); },",
        '  }),',
        '};',
        'export default def;',
      ].join('\n'),
    );
    const failed = await cli(['check-policy', file]).then(
      () => undefined,
      (err: { code: number; stdout: string }) => err,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stdout).toMatch(new RegExp(`FAIL {2}never picks an unhealthy.*\\n {8}${file}:7:25: pick threw Error: not written yet`));
    expect(failed?.stdout).toMatch(/FAIL {2}every request was answered\n {8}3000 of 3000 requests failed \(3000 x 500\)/);
    writeFileSync(file, 'export default {\n  name: "x",\n  create( {\n');
    await expect(cli(['check-policy', file])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining(`${file}:4:0: syntax error`) });
  });

  it('a .js file with a syntax error, or an import that does not resolve: the file and line, exit 2', async () => {
    const syntax = join(dir, 'syntax.js');
    writeFileSync(syntax, 'export default {\n  name: "x",\n  create() {\n    return 1 +;\n  },\n};\n');
    await expect(cli(['check-policy', syntax])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining(`${syntax}:4:14: syntax error: Unexpected ";"`) });
    const missingDep = join(dir, 'missingdep.js');
    writeFileSync(missingDep, "import x from 'no-such-pkg-xyz';\nexport default x;\n");
    const failed = await cli(['check-policy', missingDep]).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toContain(`${missingDep}:1:15: cannot find package 'no-such-pkg-xyz' that it imports`);
    expect(failed?.stderr).not.toMatch(/no such file|policy\[0\]/);
  });

  it('bad --options: each named by its path under the flag, as a scenario names policies[i].options; exit 2', async () => {
    const failed = await cli(['check-policy', 'examples/policies/slow-aware.ts', '--options', '{"slowMs":"x","windowMs":-1,"typo":1}']).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failed?.code).toBe(2);
    expect(failed?.stderr.trimEnd().split('\n')).toEqual([
      '--options.slowMs: "x": Invalid input: expected number, received string',
      '--options.windowMs: -1: Too small: expected number to be >0',
      '--options.typo: unknown field',
    ]);
  });
});
