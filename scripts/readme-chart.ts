/**
 * Regenerates the README's "What `npm start` shows" material from a real run: the table between the
 * `<!-- compare-table:begin -->` / `<!-- compare-table:end -->` markers of README.md, and the charts
 * docs/img/compare-latency-cdf.{svg,png} and docs/img/compare-request-share.{svg,png}.
 *
 *   npx tsx scripts/readme-chart.ts                       # runs compare on scenarios/default.yaml (~1 min)
 *   npx tsx scripts/readme-chart.ts --report R/report.json # re-renders from an existing report
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { Resvg } from '@resvg/resvg-js';
import type { Report } from '../core/report.js';
import { loadScenario } from '../core/scenario.js';
import { runCompare } from '../loadtest/compare.js';
import { checkPolicySpecs } from '../policies/index.js';
import { latencyCdfChart, renderSvg, requestShareChart } from '../report/charts.js';
import { ReportSchema } from '../report/schema.js';
import { renderTable } from '../report/table.js';
import { writeReports } from '../report/write.js';

const SCENARIO = 'scenarios/default.yaml';
const README = 'README.md';
const BEGIN = '<!-- compare-table:begin -->';
const END = '<!-- compare-table:end -->';

async function report(): Promise<Report> {
  const { values } = parseArgs({ options: { report: { type: 'string' } } });
  if (values.report !== undefined) return ReportSchema.parse(JSON.parse(await readFile(values.report, 'utf8'))) as Report;
  const scenario = loadScenario(SCENARIO, checkPolicySpecs);
  const fresh = await runCompare({ scenario, command: `dispatchlab compare --scenario ${SCENARIO}` });
  const written = await writeReports(fresh, { scenarioText: await readFile(SCENARIO, 'utf8') });
  process.stdout.write(`full report: ${written.dir}\n`);
  return fresh;
}

async function main(): Promise<void> {
  const r = await report();
  await mkdir('docs/img', { recursive: true });
  for (const [name, chart] of [['compare-latency-cdf', latencyCdfChart(r)], ['compare-request-share', requestShareChart(r)]] as const) {
    const svg = await renderSvg(chart.spec);
    await writeFile(`docs/img/${name}.svg`, svg);
    await writeFile(`docs/img/${name}.png`, new Resvg(svg, { fitTo: { mode: 'width', value: 1200 }, font: { loadSystemFonts: true } }).render().asPng());
    process.stdout.write(`wrote docs/img/${name}.svg and .png\n`);
  }
  const readme = await readFile(README, 'utf8');
  const begin = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`${README}: no ${BEGIN} ... ${END} markers to put the table between`);
  const when = r.createdAt ? ` on ${r.createdAt.slice(0, 10)}` : '';
  const block = `${BEGIN}\n\`\`\`text\n${renderTable(r)}\n\`\`\`\n\n<sub>One run${when} on a 2-core machine; the numbers move from run to run, the ordering much less.</sub>\n`;
  await writeFile(README, readme.slice(0, begin) + block + readme.slice(end));
  process.stdout.write(`updated the table in ${README}\n`);
}

await main();
