import Table from 'cli-table3';
import type { Report } from '../core/report.js';
import { noteLines, summaryCells, visibleColumns } from './columns.js';

/**
 * The terminal table, one row per policy, best value of each ranked column marked with `*` (and
 * bold green when colour is on). Mode-agnostic: `compare` and `simulate` print the same table.
 */

export interface TableOptions {
  /** ANSI colour; cli-table3 colours even when not a TTY, so the default is off (logs, CI). */
  readonly color?: boolean;
}

const BOLD_GREEN = (text: string): string => `\u001b[1;32m${text}\u001b[0m`;

export function renderTable(report: Report, opts: TableOptions = {}): string {
  const table = new Table({
    head: ['policy', ...visibleColumns(report.runs).map((c) => c.label)],
    colAligns: ['left', ...visibleColumns(report.runs).map(() => 'right' as const)],
    style: opts.color ? { head: ['cyan'], border: ['grey'] } : { head: [], border: [] },
  });
  const cells = summaryCells(report.runs);
  report.runs.forEach((run, i) => {
    table.push([
      run.policy,
      ...cells[i].map((c) => (c.best ? (opts.color ? BOLD_GREEN(`${c.text}*`) : `${c.text}*`) : c.text)),
    ]);
  });
  const what = report.mode === 'live' ? 'live run' : 'simulation';
  const slo = noteLines(report);
  return `${table.toString()}\n${slo.map((l) => `${l}\n`).join('')}${what} of "${report.scenario}" (seed ${report.seed}); * best in column (speed columns among the runs with the fewest errors; - when nothing succeeded); max/mean and Jain show the spread over replicas and are not ranked`;
}
