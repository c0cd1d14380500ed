import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Report } from '../../core/report.js';
import { kindShareChart, MAX_LABELLED, requestShareChart, stealChart } from '../../report/charts.js';
import { renderHtml } from '../../report/html.js';
import { renderMarkdown } from '../../report/markdown.js';
import { theoryText } from '../../report/theory.js';
import { theoryFor } from '../../sim/theory-block.js';
import { homogeneous } from '../sim/fixtures.js';
import { checkOutputs, defaultReportDir, writeReports } from '../../report/write.js';
import { fixtureReport } from './fixture.js';

/** The sections of the page by id (sections do not nest, and SVG holds none). */
function sections(html: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of html.matchAll(/<section id="([^"]+)">([\s\S]*?)<\/section>/g)) out.set(m[1], m[2]);
  return out;
}

/** Drawn data marks: vega draws each line and each bar as a <path> labelled as a mark, with a non-empty d. */
function dataMarks(svg: string): number {
  return [...svg.matchAll(/<path [^>]*aria-roledescription="(?:line mark|bar)"[^>]*d="M[^"]+"/g)].length;
}

describe('renderHtml', async () => {
  const html = await renderHtml({ report: fixtureReport(), scenarioText: 'name: tiny\n# <script>\n' });
  const bySection = sections(html);

  it('has one chart per section, each with data marks in it', () => {
    const expected = { 'latency-cdf': 3, 'request-share': 6, steal: 9, timeline: 6 };
    for (const [id, minMarks] of Object.entries(expected)) {
      const body = bySection.get(id);
      expect(body, id).toBeDefined();
      const svgs: string[] = body?.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
      expect(svgs.length, id).toBe(1);
      expect(dataMarks(svgs[0]), id).toBeGreaterThanOrEqual(minMarks);
    }
  });

  it('is self-contained and escapes what it shows', () => {
    expect(html).not.toMatch(/<script|<link |src="http/);
    expect(bySection.get('scenario')).toContain('# &#60;script&#62;');
    expect(bySection.get('theory')).toContain('&#60;b&#62;escaped');
    expect(bySection.get('command')).toContain('dispatchlab compare --scenario scenarios/tiny.yaml');
    expect(bySection.get('summary')).toContain('<td class="best">100.0*</td>');
  });

  it('leaves out a chart it has no data for', async () => {
    const report = fixtureReport();
    const bare = await renderHtml({ report: { ...report, runs: report.runs.map(({ timeline: _t, ...run }) => run) } });
    expect(sections(bare).has('timeline')).toBe(false);
    expect(sections(bare).has('latency-cdf')).toBe(true);
  });
});

describe('charts', () => {
  const many = (): Report => {
    const report = fixtureReport();
    const ids = Array.from({ length: 30 }, (_, i) => `web-${30 - i}`);
    return {
      ...report,
      runs: report.runs.map((run) => ({
        ...run,
        backends: ids.map((id) => ({ id, host: 'h', requests: 10, share: 1 / 30, stealSeconds: 0 })),
        vms: ids.map((vm) => ({ vm, host: 'h', serves: true, cpuSeconds: 1, stealSeconds: 0 })),
      })),
    };
  };

  it('sorts replica labels naturally and turns them upright-to-vertical with room to spare at 30 replicas', () => {
    const x = (requestShareChart(many()).spec as { encoding: { x: { sort: string[]; axis: { labelAngle: number } } }; width: number });
    expect(x.encoding.x.sort.slice(0, 3)).toEqual(['web-1', 'web-2', 'web-3']);
    expect(x.encoding.x.sort.indexOf('web-2')).toBeLessThan(x.encoding.x.sort.indexOf('web-10'));
    expect(x.encoding.x.axis.labelAngle).toBe(-90);
    // 30 groups of 3 bars: at least 6 px per bar.
    expect(x.width).toBeGreaterThanOrEqual(30 * 3 * 6);
    const few = requestShareChart(fixtureReport()).spec as { encoding: { x: { axis: { labelAngle: number } } } };
    expect(few.encoding.x.axis.labelAngle).toBe(0);
  });

  it('past MAX_LABELLED replicas, ranks them (one line per policy, largest first) instead of a bar each, and folds the per-policy tables', async () => {
    const report = fixtureReport();
    const count = MAX_LABELLED + 1;
    const ids = Array.from({ length: count }, (_, i) => `web-${i + 1}`);
    // Under each policy a different replica is busiest: web-(p+1) takes twice the others' share.
    const big: Report = {
      ...report,
      runs: report.runs.map((run, p) => {
        const weights = ids.map((_, i) => (i === p ? 2 : 1));
        const total = weights.reduce((a, b) => a + b, 0);
        return {
          ...run,
          backends: ids.map((id, i) => ({ id, host: `h${i % 7}`, kind: i < 3 ? 'fast' : 'slow', requests: weights[i], share: weights[i] / total, stealSeconds: i === p ? 0.5 : 0.1 })),
          vms: ids.map((vm, i) => ({ vm, host: `h${i % 7}`, serves: true, cpuSeconds: 1, stealSeconds: i === p ? 0.5 : 0.1 })),
        };
      }),
    };
    for (const chart of [requestShareChart(big), stealChart(big)]) {
      const spec = chart.spec as { mark: string; data: { values: Array<{ policy: string; label: string; rank: number; value: number }> }; encoding: { x: { field: string; scale: { domain: number[] } } } };
      expect(spec.mark, chart.id).toBe('line');
      expect(spec.encoding.x.field).toBe('rank');
      expect(spec.encoding.x.scale.domain).toEqual([1, count]);
      expect(chart.caption).toContain(`${count}`);
      big.runs.forEach((run, p) => {
        const rows = spec.data.values.filter((r) => r.policy === run.policy);
        expect(rows.map((r) => r.rank)).toEqual(ids.map((_, i) => i + 1));
        expect(rows[0].label.startsWith(`web-${p + 1}`)).toBe(true);
        expect(rows.every((r, i) => i === 0 || r.value <= rows[i - 1].value)).toBe(true);
      });
    }
    // Which kinds each policy favoured: the busiest replica (weight 2) is one of the three fast ones.
    const kinds = kindShareChart(big).spec as { mark: string; data: { values: Array<{ policy: string; label: string; value: number }> } };
    expect(kinds.mark).toBe('bar');
    const total = count + 1;
    const leastLoaded = kinds.data.values.filter((r) => r.policy === 'least-loaded');
    expect(leastLoaded.map((r) => r.label)).toEqual(['fast (3)', 'slow (98)']);
    expect(leastLoaded[0].value).toBeCloseTo(4 / total / 3, 12);
    expect(leastLoaded[1].value).toBeCloseTo(1 / total, 12);
    const page = sections(await renderHtml({ report: big }));
    for (const id of ['request-share', 'steal']) expect(dataMarks(page.get(id) ?? ''), id).toBe(big.runs.length);
    expect(dataMarks(page.get('kind-share') ?? '')).toBe(2 * big.runs.length);
    expect((page.get('runs') ?? '').split(`<details><summary>the ${count} replicas</summary><table>`).length - 1).toBe(big.runs.length);
    // At most MAX_LABELLED, a bar per replica and policy, and the tables of a few replicas stay open.
    expect((requestShareChart(many()).spec as { mark: string }).mark).toBe('bar');
    expect(kindShareChart(many()).rows).toBe(0);
    const ownKinds: Report = { ...big, runs: big.runs.map((run) => ({ ...run, backends: run.backends.map((b) => ({ ...b, kind: b.id })) })) };
    expect(kindShareChart(ownKinds).rows).toBe(0);
    expect(sections(await renderHtml({ report: fixtureReport() })).get('runs')).not.toContain('<details>');
  });

  it('leaves the steal chart out when nothing was stolen, and draws one latency-over-time panel per policy', async () => {
    expect(stealChart(many()).rows).toBe(0);
    const page = sections(await renderHtml({ report: many() }));
    expect(page.has('steal')).toBe(false);
    const timeline = page.get('timeline') ?? '';
    expect(timeline).toContain('shaded: warm-up, not measured');
    // Each policy names its own panel and its legend entry.
    for (const policy of ['round-robin', 'least-loaded', 'session-sticky']) expect(timeline.split(`>${policy}</text>`).length - 1).toBe(2);
  });
});

describe('the theory block', () => {
  const report = { ...fixtureReport(), mode: 'simulate' as const, theory: { ...theoryFor(homogeneous({ replicas: 10, utilisation: 0.9 })) } };

  it('is a readable table in the HTML, at 2 decimals, each measured mean beside the best possible', async () => {
    const theory = sections(await renderHtml({ report })).get('theory') ?? '';
    expect(theory).toMatch(/<table>.*<td>central queue \(M\/M\/c, Erlang C\)<\/td><td>16\.69 ms<\/td><td>6\.69 ms<\/td>/);
    expect(theory).toContain('<td>random assignment (M/G/1-PS each)</td><td>100.00 ms</td>');
    expect(theory).toMatch(/<td>measured: least-loaded<\/td><td>5\.00 ms<\/td><td><\/td><td>0\.30x the central queue<\/td>/);
    expect(theory).not.toMatch(/\d\.\d{5,}/);
  });

  it('without a central queue (non-exponential service): each measured mean alone, and which baselines are left out and why, in words', async () => {
    const lognormal = { ...report, theory: { ...theoryFor(homogeneous({ replicas: 10, utilisation: 0.5, service: 'lognormal' })) } };
    const why = 'no central queue (M/M/c, Erlang C), power of two (supermarket limit) and round robin (E_n/M/1 each) baselines: a request class has non-exponential service';
    const text = theoryText(lognormal);
    expect(text).toContain('random assignment (M/G/1-PS each) mean 20.00 ms');
    expect(text).toMatch(/measured least-loaded +mean 5\.00 ms\n/);
    expect(text).toContain(`  ${why}`);
    const theory = sections(await renderHtml({ report: lognormal })).get('theory') ?? '';
    expect(theory).toContain('<td>measured: least-loaded</td><td>5.00 ms</td><td></td><td></td>');
    expect(theory).toContain(`<p>${why}</p>`);
    const md = renderMarkdown(lognormal);
    expect(md).toContain('| measured: least-loaded | 5.00 ms | |  |');
    expect(md).toContain(why);
    for (const page of [text, theory, md]) expect(page).not.toMatch(/NaN|centralQueue|mean -/);
  });

  it('is a table in the Markdown summary too', () => {
    const md = renderMarkdown(report);
    expect(md).toContain('## Theory');
    expect(md).toContain('| central queue (M/M/c, Erlang C) | 16.69 ms | 6.69 ms | the best any dispatcher can do |');
    expect(md).not.toMatch(/\d\.\d{5,}/);
  });
});

describe('writeReports', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('writes json, html and md into a timestamped directory by default', async () => {
    const root = await mkdtemp(join(tmpdir(), 'dispatchlab-report-'));
    dirs.push(root);
    const written = await writeReports(fixtureReport(), { reportsRoot: root });
    expect(written.dir).toMatch(/tiny-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d$/);
    expect(JSON.parse(await readFile(written.json!, 'utf8'))).toEqual(fixtureReport());
    expect(await readFile(written.html!, 'utf8')).toContain('<section id="request-share">');
    expect(await readFile(written.markdown!, 'utf8')).toContain('[report.html](report.html)');
  });

  it('writes exactly the explicit paths, the summary beside the HTML', async () => {
    const root = await mkdtemp(join(tmpdir(), 'dispatchlab-report-'));
    dirs.push(root);
    const written = await writeReports(fixtureReport(), { json: join(root, 'a/out.json'), html: join(root, 'b/page.html') });
    expect(written.markdown).toBe(join(root, 'b/page.md'));
    expect(await readFile(written.markdown!, 'utf8')).toContain('[../a/out.json](../a/out.json)');
  });

  it('with --json only writes only that file; with "-" writes the JSON to stdout and no file', async () => {
    const root = await mkdtemp(join(tmpdir(), 'dispatchlab-report-'));
    dirs.push(root);
    const only = await writeReports(fixtureReport(), { json: join(root, 'only.json') });
    expect(await readdir(root)).toEqual(['only.json']);
    expect(only.dir).toBe(root);
    let out = '';
    const piped = await writeReports(fixtureReport(), { json: '-', stdout: { write: (t: string) => (out += t) }, reportsRoot: root });
    expect(JSON.parse(out)).toEqual(fixtureReport());
    expect(piped.dir).toBeUndefined();
    expect(await readdir(root)).toEqual(['only.json']);
  });

  it('refuses, before any run, paths it could not write, in one line naming the flag', async () => {
    const root = await mkdtemp(join(tmpdir(), 'dispatchlab-report-'));
    dirs.push(root);
    const file = join(root, 'a-file');
    await writeFile(file, 'x');
    expect(() => checkOutputs({ json: join(file, 'r.json') })).toThrow(/^--json: cannot create .*a-file is a file, not a directory$/);
    expect(() => checkOutputs({ html: root })).toThrow(/^--html: .* is a directory; give a file name$/);
    expect(() => checkOutputs({ dir: join(file, 'out') })).toThrow(/^--out: cannot create/);
    expect(() => checkOutputs({ html: '-' })).toThrow(/only --json can be "-"/);
    expect(() => checkOutputs({ json: '-', dir: join(file, 'out') })).not.toThrow();
    expect(() => checkOutputs({ json: join(root, 'new/deeper/r.json'), html: join(root, 'r.html') })).not.toThrow();
    // A place whose permission bits let root in but that takes no new file: refused too, by trying.
    if (process.platform === 'linux') {
      expect(() => checkOutputs({ dir: '/proc/dispatchlab-out' })).toThrow(/^--out: cannot write \/proc\/dispatchlab-out: no file can be created in \/proc$/);
      expect(() => checkOutputs({ json: '/proc/r.json' })).toThrow(/^--json: cannot write \/proc\/r\.json/);
    }
    if (process.getuid?.() !== 0) {
      const locked = join(root, 'locked');
      await mkdir(locked, { mode: 0o500 });
      expect(() => checkOutputs({ dir: join(locked, 'x') })).toThrow(/no file can be created in/);
      const readOnly = join(root, 'read-only.json');
      await writeFile(readOnly, '{}', { mode: 0o444 });
      expect(() => checkOutputs({ json: readOnly })).toThrow(/^--json: cannot write .*read-only\.json: the file is not writable$/);
    }
    // The checks leave nothing behind.
    expect((await readdir(root)).sort()).toEqual(process.getuid?.() !== 0 ? ['a-file', 'locked', 'read-only.json'] : ['a-file']);
  });

  it('names the default report directory after the scenario, one directory under the root whatever the name holds', () => {
    const at = new Date('2026-12-01T15:04:05.678Z');
    expect(defaultReportDir({ scenario: 'default' }, 'reports', at)).toBe(join('reports', 'default-2026-12-01T15-04-05'));
    expect(defaultReportDir({ scenario: '../../escape' }, 'reports', at)).toBe(join('reports', '-.-..-escape-2026-12-01T15-04-05'));
    expect(defaultReportDir({ scenario: 'a/b c\nd' }, 'reports', at)).toBe(join('reports', 'a-b-c-d-2026-12-01T15-04-05'));
  });
});

describe('ReportSchema', async () => {
  const { ReportSchema } = await import('../../report/schema.js');
  it('accepts a report and refuses a share above 1 with its path', () => {
    expect(ReportSchema.safeParse(fixtureReport()).success).toBe(true);
    const bad = fixtureReport();
    const result = ReportSchema.safeParse({ ...bad, runs: [{ ...bad.runs[0], backends: [{ ...bad.runs[0].backends[0], share: 1.5 }] }] });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0].path).toEqual(['runs', 0, 'backends', 0, 'share']);
  });
});
