import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkPolicy } from '../../cli/check-policy.js';
import { resolvePolicy } from '../../cli/dispatcher-options.js';
import { selectPolicies } from '../../cli/flags.js';
import { createRng } from '../../core/rng.js';
import { loadScenario, type PolicySpec } from '../../core/scenario.js';
import { createPolicy, loadPolicyFiles } from '../../policies/index.js';
import { simulatePolicy } from '../../sim/simulation.js';
import { backends } from './helpers.js';

/**
 * A user's policy file, loaded as `dispatchlab` loads it: the shipped example is checked and run,
 * and broken files (written outside the repository, where only the loader's own resolution of
 * `dispatchlab/policy` can find the types module) give errors that name the file and line.
 */

const EXAMPLE = resolve('examples/policies/slow-aware.ts');
const dir = mkdtempSync(join(tmpdir(), 'dispatchlab-policy-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A policy file in the temporary folder; `pick` is the body of its pick(backends, ctx). */
function policyFile(name: string, pick: string): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    [
      "import { eligible, z, type PolicyDefinition } from 'dispatchlab/policy';",
      'const options = z.strictObject({ failAfter: z.number().int().default(0) });',
      'const def: PolicyDefinition<typeof options> = {',
      `  name: '${name.replace(/\.\w+$/, '')}', summary: 'test', options,`,
      '  create: ({ failAfter }) => {',
      '    let picks = 0;',
      '    return {',
      `      name: '${name}',`,
      '      pick(backends, ctx) {',
      `        ${pick}`,
      '      },',
      '    };',
      '  },',
      '};',
      'export default def;',
      '',
    ].join('\n'),
  );
  return file;
}

async function load(file: string, options: Record<string, unknown> = {}): Promise<{ spec: PolicySpec; issues: string[] }> {
  const spec: PolicySpec = { file, options };
  const issues = await loadPolicyFiles([spec]);
  return { spec, issues: issues.map((i) => `${i.path}: ${i.message}`) };
}

describe('the example policy', () => {
  it('passes check-policy: the contract and the quick simulation against round-robin', async () => {
    const { spec, issues } = await load(EXAMPLE);
    expect(issues).toEqual([]);
    const lines: string[] = [];
    expect(checkPolicy(spec, (line) => lines.push(line))).toBe(true);
    const text = lines.join('\n');
    expect(text).toMatch(/ok {4}never picks an unhealthy/);
    expect(text).toMatch(/│ slow-aware /);
    expect(text).toMatch(/│ round-robin /);
    expect(text).toMatch(/all checks passed$/);
    expect(text).not.toMatch(/FAIL/);
  });

  it('is what the tutorial in docs/policies.md shows (but for its header comment)', () => {
    const doc = readFileSync('docs/policies.md', 'utf8');
    const snippet = /```ts\n(import \{ eligible[\s\S]*?)```/.exec(doc)?.[1];
    expect(snippet).toBe(readFileSync(EXAMPLE, 'utf8').replace(/\/\*\*[\s\S]*?\*\/\n/, ''));
  });

  it('runs from a scenario entry { file, options, label }, the file relative to the scenario', async () => {
    const scenarioFile = join(dir, 'scenario.yaml');
    writeFileSync(
      scenarioFile,
      [
        'name: file-policy',
        'hosts: [{ name: h, cores: 4, memoryMb: 8192 }]',
        'vms: [{ name: web, count: 3, host: h }]',
        'workload: { classes: [{ name: page, share: 1, cpuMs: 5 }], arrival: { rateRps: 200 } }',
        `policies: [round-robin, { file: ${JSON.stringify(relative(dir, EXAMPLE))}, options: { slowMs: 20 }, label: mine }]`,
        'duration: 5s',
        'warmup: 1s',
      ].join('\n'),
    );
    const scenario = loadScenario(scenarioFile);
    const entry = scenario.policies[1];
    expect(entry).toEqual({ file: EXAMPLE, options: { slowMs: 20 }, label: 'mine' });
    expect(await loadPolicyFiles(scenario.policies)).toEqual([]);
    const run = simulatePolicy(scenario, entry, { requests: 500 });
    expect(run.policy).toBe('mine');
    expect(run.errors).toBe(0);
    expect(run.backends.map((b) => b.requests).reduce((a, b) => a + b, 0)).toBe(500);
  });

  it('--policies and --policy take a file, relative to the working directory', async () => {
    const scenario = loadScenario('scenarios/homogeneous.yaml');
    expect(selectPolicies(scenario, 'random, examples/policies/slow-aware.ts')).toEqual(['random', { file: EXAMPLE, options: {} }]);
    expect(await resolvePolicy(scenario, './examples/policies/slow-aware.ts')).toEqual({ file: EXAMPLE, options: {} });
    await expect(resolvePolicy(scenario, join(dir, 'absent.ts'))).rejects.toThrow(`--policy[0]: ${join(dir, 'absent.ts')}: no such file`);
  });

  it('refuses bad options with the entry and field', async () => {
    const { issues } = await load(EXAMPLE, { slowMs: -1 });
    expect(issues).toEqual([expect.stringMatching(/^policies\[0\]\.options\.slowMs: /)]);
  });
});

describe('errors in a policy file name the file and line', () => {
  it('a syntax error', async () => {
    const file = policyFile('syntax.ts', 'return eligible(backends, ctx.avoid)[0]?.id +;');
    expect((await load(file)).issues).toEqual([expect.stringContaining(`policies[0]: ${file}:10:`)]);
    expect((await load(file)).issues[0]).toMatch(/syntax error/);
  });

  it('a syntax error in a .js or .mjs file, which Node parses itself: the file, line and column too', async () => {
    const source = 'export default {\n  name: "x",\n  create() {\n    return 1 +;\n  },\n};\n';
    for (const name of ['js-syntax.js', 'mjs-syntax.mjs']) {
      const file = join(dir, name);
      writeFileSync(file, source);
      expect((await load(file)).issues).toEqual([`policies[0]: ${file}:4:14: syntax error: Unexpected ";"`]);
    }
  });

  it('an import that does not resolve names the module and the line of the import, not "no such file"', async () => {
    const pkg = join(dir, 'missing-package.js');
    writeFileSync(pkg, "// a comment\nimport x from 'no-such-pkg-xyz';\nexport default x;\n");
    expect((await load(pkg)).issues).toEqual([`policies[0]: ${pkg}:2:15: cannot find package 'no-such-pkg-xyz' that it imports (a policy file imports only dispatchlab/policy and Node's built-in modules)`]);
    // zod is dispatchlab's dependency, but it does not resolve from a file outside the project.
    const zod = join(dir, 'zod.ts');
    writeFileSync(zod, "import { z } from 'zod';\nexport default { name: 'zod', options: z.strictObject({}), create: () => ({ name: 'zod', pick: () => undefined }) };\n");
    expect((await load(zod)).issues).toEqual([expect.stringMatching(new RegExp(`^policies\\[0\\]: ${zod}:1:19: cannot find package 'zod' that it imports \\(.*dispatchlab/policy, which exports z,`))]);
    // A file of one's own that is not there is named as the import writes it.
    const own = join(dir, 'own-helper.mjs');
    writeFileSync(own, "import { helper } from './helpers/absent.mjs';\nexport default helper;\n");
    expect((await load(own)).issues).toEqual([expect.stringMatching(new RegExp(`^policies\\[0\\]: ${own}:1:24: cannot find module './helpers/absent\\.mjs' that it imports`))]);
    for (const file of [pkg, zod, own]) expect((await load(file)).issues[0]).not.toMatch(/no such file/);
  });

  it('a file that is not there: "no such file", however its folder is', async () => {
    expect((await load(join(dir, 'absent.js'))).issues).toEqual([`policies[0]: ${join(dir, 'absent.js')}: no such file`]);
    expect((await load(join(dir, 'no-folder', 'absent.ts'))).issues).toEqual([`policies[0]: ${join(dir, 'no-folder', 'absent.ts')}: no such file`]);
  });

  it('a file that is not a policy: no default export, or the wrong shape', async () => {
    const none = join(dir, 'none.mjs');
    writeFileSync(none, 'export const policy = {};\n');
    expect((await load(none)).issues).toEqual([`policies[0]: ${none}: the file has no default export`]);
    const shape = join(dir, 'shape.js');
    writeFileSync(shape, 'export default { name: "x", pick() {} };\n');
    expect((await load(shape)).issues).toEqual([expect.stringMatching(/shape\.js: the default export is not a PolicyDefinition: missing options .*create\(options, deps\)/)]);
    expect((await load(join(dir, 'missing.ts'))).issues).toEqual([expect.stringMatching(/missing\.ts: no such file$/)]);
  });

  it('a throw in pick, with the hook and the line; and an id that is not a backend', async () => {
    const throws = policyFile('throws.ts', "if (++picks > failAfter) throw new RangeError('no luck'); return eligible(backends, ctx.avoid)[0]?.id;");
    const { spec } = await load(throws);
    const p = createPolicy(spec, { rng: createRng(1) });
    // The exact line is checked through the CLI (check-policy-cli.test.ts): vitest's own stack
    // trace handling skips the source maps of files it did not load.
    expect(() => p.pick(backends('a'), { now: 0 })).toThrow(new RegExp(`^${throws}:\\d+:\\d+: pick threw RangeError: no luck$`));
    const unknown = policyFile('unknown.ts', "return 'nope';");
    const q = createPolicy((await load(unknown)).spec, { rng: createRng(1) });
    expect(() => q.pick(backends('a', 'b'), { now: 0 })).toThrow(`${unknown}: pick returned "nope", which is not the id of any backend it was given (a, b)`);
  });

  it('a .js file works as well as a .ts one', async () => {
    const file = join(dir, 'plain.mjs');
    writeFileSync(file, "import { eligible, z } from 'dispatchlab/policy';\nexport default { name: 'plain', summary: '', options: z.strictObject({}), create: () => ({ name: 'plain', pick: (b, ctx) => eligible(b, ctx.avoid).at(-1)?.id }) };\n");
    const { spec, issues } = await load(file);
    expect(issues).toEqual([]);
    expect(createPolicy(spec, { rng: createRng(1) }).pick(backends('a', 'b'), { now: 0 })).toBe('b');
  });
});

describe('a throwing policy in the simulator', () => {
  it('fails those requests with code 500 and reports why; the run goes on', async () => {
    // Round robin but for the throws, so no replica is overrun (a timeout would be a 504, not a 500).
    const file = policyFile('flaky.ts', "if (++picks % 10 === 0) throw new Error('every tenth'); const ok = eligible(backends, ctx.avoid); return ok[picks % ok.length]?.id;");
    const { spec } = await load(file);
    const scenario = loadScenario('scenarios/homogeneous.yaml');
    const errors: string[] = [];
    const run = simulatePolicy(scenario, spec, { requests: 1000, onPolicyError: (m) => errors.push(m) });
    expect(run.errorsByCode?.['500']).toBeGreaterThan(80);
    expect(run.errorsByCode?.['500']).toBeLessThan(120);
    expect(run.errors).toBe(run.errorsByCode?.['500']);
    expect(run.requests).toBe(1000);
    // Warm-up requests fail too (and are logged) but are not measured.
    expect(errors.length).toBeGreaterThan(run.errors);
    expect([...new Set(errors)]).toEqual([expect.stringMatching(new RegExp(`^${file}:\\d+:\\d+: pick threw Error: every tenth$`))]);
  });
});
