import type { Report } from '../core/report.js';
import { theoryMarkdown } from './theory.js';
import { noteLines, summaryCells, visibleColumns } from './columns.js';

/** A Markdown summary beside the HTML page: the table (best values in bold) and how to reproduce. */

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

export function renderMarkdown(report: Report, links: { readonly html?: string; readonly json?: string } = {}): string {
  const cells = summaryCells(report.runs);
  const lines = [
    `# dispatchlab ${report.mode === 'live' ? 'comparison' : 'simulation'}: ${report.scenario}`,
    '',
    `mode ${report.mode}, seed ${report.seed}${report.createdAt ? `, ${report.createdAt}` : ''}`,
    '',
    `| policy | ${visibleColumns(report.runs).map((c) => c.label).join(' | ')} |`,
    `|---|${visibleColumns(report.runs).map(() => '---:').join('|')}|`,
    ...report.runs.map((run, i) => `| ${cell(run.policy)} | ${cells[i].map((c) => (c.best ? `**${cell(c.text)}**` : cell(c.text))).join(' | ')} |`),
    '',
    ...noteLines(report).flatMap((l) => [l.startsWith('  ') ? `- ${cell(l.trim())}` : cell(l), '']),
    'Bold: best in its column; the speed columns (ok/s, latency, queue) are ranked among the runs with the fewest errors, and show - when nothing succeeded. max/mean and Jain describe the spread over replicas and are not ranked.',
  ];
  const theory = theoryMarkdown(report);
  if (theory.length > 0) lines.push('', ...theory);
  if (links.html || links.json) {
    lines.push('', [links.html && `Charts: [${links.html}](${links.html})`, links.json && `data: [${links.json}](${links.json})`].filter(Boolean).join('; '));
  }
  if (report.command) lines.push('', 'Reproduce:', '', '```sh', report.command, '```');
  return `${lines.join('\n')}\n`;
}
