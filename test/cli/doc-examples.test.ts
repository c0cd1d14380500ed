import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { killLeftovers, runBuilt } from './run-built.js';

/**
 * The documents' example outputs are what the built CLI prints today: each example is run as
 * written and its lines must appear in the document's block exactly. The examples chosen are
 * seeded simulations and checks, so their output is the same on every machine.
 */

const dir = mkdtempSync(join(tmpdir(), 'dispatchlab-doc-examples-'));
afterAll(() => {
  killLeftovers();
  rmSync(dir, { recursive: true, force: true });
});

/** The lines of `doc` after the line that ends `marker`, up to the end of its fenced block. */
function blockAfter(doc: string, marker: string): string[] {
  const at = doc.indexOf(marker);
  if (at < 0) throw new Error(`no "${marker}" in the document`);
  const start = doc.indexOf('\n', at + marker.length - 1) + 1;
  return doc.slice(start, doc.indexOf('\n```', start)).split('\n');
}

describe('the documents show what the CLI prints', () => {
  it("README's SLO example: the table, the verdict and the exit code", async () => {
    const readme = readFileSync('README.md', 'utf8');
    const command = "$ npx dispatchlab simulate --scenario scenarios/homogeneous.yaml --policies random,least-loaded --requests 3000 --slo 'p99<300ms,errors<1%'";
    const shown = blockAfter(readme, command);
    const run = await runBuilt(['simulate', '--scenario', 'scenarios/homogeneous.yaml', '--policies', 'random,least-loaded', '--requests', '3000', '--slo', 'p99<300ms,errors<1%', '--out', join(dir, 'slo')]);
    expect(run.code).toBe(1);
    const printed = run.stdout.split('\n');
    // Every line the README shows up to its "…" is printed as it shows it.
    const lines = shown.slice(0, shown.indexOf('…'));
    expect(lines.length).toBeGreaterThan(8);
    for (const line of lines) expect(printed).toContain(line);
  });

  it("docs/scenarios.md's validate example: the bad file's issues, word for word", async () => {
    const doc = readFileSync('docs/scenarios.md', 'utf8');
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, `${blockAfter(doc, 'This file has three field\nerrors:\n\n```yaml').join('\n')}\n`);
    const run = await runBuilt(['validate', file]);
    const shown = blockAfter(doc, '$ npx dispatchlab validate bad.yaml; echo "exit $?"');
    expect(`exit ${run.code}`).toBe(shown.at(-1));
    expect((run.stdout + run.stderr).replaceAll(file, 'bad.yaml').trimEnd().split('\n')).toEqual(shown.slice(0, -1));
  });
});
