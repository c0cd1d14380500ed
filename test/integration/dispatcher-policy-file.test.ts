import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { PolicySpec } from '../../core/scenario.js';
import { startUp, type RunningUp } from '../../dispatcher/local-fleet.js';
import { loadPolicyFiles } from '../../policies/index.js';
import { ADMIN_TOKEN, get, replicasScenario } from './dispatcher-helpers.js';

/**
 * A user's policy file in a live dispatcher: it routes real requests; when its pick throws, that
 * request is answered 500 and the dispatcher logs the file, line and error, and goes on serving;
 * the admin API switches to another policy file.
 */

const dir = mkdtempSync(join(tmpdir(), 'dispatchlab-live-policy-'));

/** A policy file whose pick throws for paths under /boom and otherwise returns `choose`. */
function policyFile(name: string, choose: string): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    [
      "import { eligible, z, type PolicyDefinition } from 'dispatchlab/policy';",
      'const def: PolicyDefinition = {',
      `  name: '${name}', summary: 'test', options: z.strictObject({}),`,
      '  create: () => ({',
      `    name: '${name}',`,
      '    pick(backends, ctx) {',
      "      if (ctx.requestKey?.startsWith('/boom')) throw new Error('no route for ' + ctx.requestKey);",
      `      return ${choose};`,
      '    },',
      '  }),',
      '};',
      'export default def;',
    ].join('\n'),
  );
  return file;
}

const first = policyFile('first.ts', 'eligible(backends, ctx.avoid)[0]?.id');
const last = policyFile('last.ts', 'eligible(backends, ctx.avoid).at(-1)?.id');
let up: RunningUp;
const stderr = vi.spyOn(process.stderr, 'write');

beforeAll(async () => {
  const spec: PolicySpec = { file: first, options: {} };
  expect(await loadPolicyFiles([spec])).toEqual([]);
  up = await startUp({ scenario: replicasScenario(2), policy: spec, adminToken: ADMIN_TOKEN, dispatcher: { healthChecks: false } });
});
afterAll(async () => {
  stderr.mockRestore();
  await up?.close();
  rmSync(dir, { recursive: true, force: true });
});

function putPolicy(body: unknown): Promise<Response> {
  return fetch(`${up.dispatcher.adminUrl}/policy`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify(body),
  });
}

describe('a policy file in a live dispatcher', () => {
  it('routes requests', async () => {
    for (let i = 0; i < 3; i++) expect((await get(`${up.dispatcher.url}/page`)).servedBy).toBe('r1');
  });

  it('a pick that throws fails that request with 500 and a log line naming the file; the dispatcher keeps serving', async () => {
    const answer = await get(`${up.dispatcher.url}/boom/1`);
    expect(answer.status).toBe(500);
    expect(JSON.parse(answer.body)).toEqual({ error: 'the balancing policy failed on this request (see the dispatcher log)' });
    const logged = stderr.mock.calls.map(([line]) => String(line)).filter((line) => line.includes('policy error'));
    expect(logged).toEqual([expect.stringMatching(new RegExp(`^dispatchlab: policy error \\(request failed with 500\\): ${first}:\\d+:\\d+: pick threw Error: no route for /boom/1\\n$`))]);
    expect((await get(`${up.dispatcher.url}/page`)).status).toBe(200);
    expect(up.dispatcher.balancer.stats().refused['policy-error']).toBe(1);
    expect(up.dispatcher.balancer.views().every((b) => b.inFlight === 0)).toBe(true);
    const metrics = await (await fetch(`${up.dispatcher.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/dispatchlab_refused_total\{policy="first",reason="policy-error"\} 1/);
    expect(metrics).toMatch(/dispatchlab_requests_total\{policy="first",backend="none",code="500"\} 1/);
  });

  it('the admin API switches to another policy file, and refuses a broken one with its message', async () => {
    const res = await putPolicy({ file: last, options: {} });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ name: last, label: 'last' });
    for (let i = 0; i < 3; i++) expect((await get(`${up.dispatcher.url}/page`)).servedBy).toBe('r2');
    // Edited and switched to again: the new code runs, without a restart.
    policyFile('last.ts', 'eligible(backends, ctx.avoid)[0]?.id');
    expect((await putPolicy({ file: last })).status).toBe(200);
    expect((await get(`${up.dispatcher.url}/page`)).servedBy).toBe('r1');
    const broken = join(dir, 'broken.ts');
    writeFileSync(broken, 'export default {\n  name: "x",\n');
    const refused = await putPolicy({ file: broken });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: string }).error).toMatch(new RegExp(`^${broken}:\\d+:\\d+: syntax error`));
    expect((await get(`${up.dispatcher.url}/page`)).servedBy).toBe('r1');
  });

  it('refuses a file whose import does not resolve, naming the module, and a missing file as missing; no entry index', async () => {
    const missingDep = join(dir, 'missingdep.js');
    writeFileSync(missingDep, "import x from 'no-such-pkg-xyz';\nexport default x;\n");
    const refused = await putPolicy({ file: missingDep });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: string }).error).toMatch(new RegExp(`^${missingDep}:1:15: cannot find package 'no-such-pkg-xyz' that it imports`));
    const absent = await putPolicy({ file: join(dir, 'absent.ts') });
    expect(absent.status).toBe(400);
    expect(await absent.json()).toEqual({ error: `${join(dir, 'absent.ts')}: no such file` });
    const jsSyntax = join(dir, 'js-syntax.js');
    writeFileSync(jsSyntax, 'export default {\n  name: "x",\n  create() {\n    return 1 +;\n  },\n};\n');
    expect(await (await putPolicy({ file: jsSyntax })).json()).toEqual({ error: `${jsSyntax}:4:14: syntax error: Unexpected ";"` });
    const options = await putPolicy({ file: last, options: { extra: 1 } });
    expect(options.status).toBe(400);
    expect(((await options.json()) as { error: string }).error).toBe('options.extra: unknown field');
    expect((await get(`${up.dispatcher.url}/page`)).servedBy).toBe('r1');
  });
});
