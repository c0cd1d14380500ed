import type { PolicyRun, Report } from '../core/report.js';
import { renderCharts, type RenderedChart } from './charts.js';
import { theoryHtml } from './theory.js';
import { noteLines, summaryCells, visibleColumns } from './columns.js';

/**
 * One self-contained HTML page for a report: the summary table, the SVG charts inline (no
 * scripts, no external files, so it can be mailed or archived), per-run details, what ran where,
 * the theory block when there is one, the scenario and the command that reproduces it.
 */

export interface HtmlInput {
  readonly report: Report;
  /** The scenario file's text, shown verbatim. */
  readonly scenarioText?: string;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 980px; padding: 0 1rem; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5rem 0; } td, th { padding: .2rem .6rem; border-bottom: 1px solid #eee; text-align: right; }
td:first-child, th:first-child { text-align: left; } .best { font-weight: bold; color: #1a7f37; }
pre { background: #f6f8fa; padding: .8rem; overflow-x: auto; font-size: 13px; } .caption { color: #555; }
`;

function summaryTable(report: Report): string {
  const cells = summaryCells(report.runs);
  const head = `<tr><th>policy</th>${visibleColumns(report.runs).map((c) => `<th>${escapeHtml(c.label)}</th>`).join('')}</tr>`;
  const rows = report.runs.map(
    (run, i) =>
      `<tr><td>${escapeHtml(run.policy)}</td>${cells[i].map((c) => (c.best ? `<td class="best">${escapeHtml(c.text)}*</td>` : `<td>${escapeHtml(c.text)}</td>`)).join('')}</tr>`,
  );
  const slo = noteLines(report);
  const sloBlock = slo.length === 0 ? '' : `<p>${slo.map(escapeHtml).join('<br>')}</p>`;
  return `<table>${head}${rows.join('')}</table>${sloBlock}<p class="caption">* best in its column; the speed columns (ok/s, latency, queue) are ranked among the runs with the fewest errors, and show - when nothing succeeded. max/mean and Jain describe the spread over replicas and are not ranked.</p>`;
}

/** Per-policy replica tables longer than this start folded. */
const MAX_OPEN_ROWS = 20;

function runDetails(run: PolicyRun): string {
  const backendRows = run.backends
    .map(
      (b) =>
        `<tr><td>${escapeHtml(b.id)}</td><td>${escapeHtml(b.host)}</td><td>${b.requests}</td><td>${(b.share * 100).toFixed(1)}%</td><td>${b.errors ?? '-'}</td><td>${b.cpuSeconds?.toFixed(2) ?? '-'}</td><td>${b.stealSeconds?.toFixed(2) ?? '-'}</td></tr>`,
    )
    .join('');
  const facts: string[] = [`${run.requests} requests, ${run.errors} errors`];
  if (run.errorsByCode && Object.keys(run.errorsByCode).length > 0) {
    facts.push(`errors by code: ${Object.entries(run.errorsByCode).map(([code, n]) => `${escapeHtml(code)}: ${n}`).join(', ')}`);
  }
  if (run.retries !== undefined) facts.push(`retries: ${run.retries}`);
  if (run.queueWaitMs) facts.push(`dispatcher queue wait: mean ${run.queueWaitMs.mean.toFixed(2)} ms, p99 ${run.queueWaitMs.p99.toFixed(2)} ms`);
  if (run.stickyHitRatio !== undefined) facts.push(`sticky hit ratio: ${(run.stickyHitRatio * 100).toFixed(1)}%`);
  const table = `<table><tr><th>replica</th><th>host</th><th>requests</th><th>share</th><th>errors</th><th>CPU s</th><th>steal s</th></tr>${backendRows}</table>`;
  // A data centre's hundreds of rows per policy would bury the page: folded, one click away.
  const folded = run.backends.length > MAX_OPEN_ROWS ? `<details><summary>the ${run.backends.length} replicas</summary>${table}</details>` : table;
  return `<h3>${escapeHtml(run.policy)}</h3><p>${facts.join('; ')}</p>\n${folded}`;
}

function chartSection(chart: RenderedChart): string {
  return `<section id="${chart.id}"><h2>${escapeHtml(chart.title)}</h2><p class="caption">${escapeHtml(chart.caption)}</p>${chart.svg}</section>`;
}

function jsonBlock(value: unknown): string {
  return `<pre>${escapeHtml(JSON.stringify(value, null, 2))}</pre>`;
}

export async function renderHtml({ report, scenarioText }: HtmlInput): Promise<string> {
  const charts = await renderCharts(report);
  const what = report.mode === 'live' ? 'Live comparison' : 'Simulated comparison';
  const sections = [
    `<section id="summary"><h2>Summary</h2>${summaryTable(report)}</section>`,
    ...charts.map(chartSection),
    `<section id="runs"><h2>Per policy</h2>${report.runs.map(runDetails).join('')}</section>`,
  ];
  if (report.environment) sections.push(`<section id="environment"><h2>What ran where</h2>${jsonBlock(report.environment)}</section>`);
  if (report.theory) sections.push(`<section id="theory"><h2>Theory</h2>${theoryHtml(report, escapeHtml) || jsonBlock(report.theory)}</section>`);
  if (scenarioText !== undefined) sections.push(`<section id="scenario"><h2>Scenario</h2><pre>${escapeHtml(scenarioText)}</pre></section>`);
  if (report.command) sections.push(`<section id="command"><h2>Reproduce</h2><pre>${escapeHtml(report.command)}</pre></section>`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dispatchlab: ${escapeHtml(report.scenario)}</title><style>${STYLE}</style></head>
<body><h1>${what}: ${escapeHtml(report.scenario)}</h1>
<p>mode ${report.mode}, seed ${report.seed}${report.createdAt ? `, ${escapeHtml(report.createdAt)}` : ''}</p>
${sections.join('\n')}
</body></html>
`;
}
