import type { PolicyRun, Report } from '../core/report.js';

/**
 * The per-policy columns every summary shows (terminal table, Markdown, HTML), with which way is
 * better, so each renderer marks the same best value. Defined once so the three never disagree.
 *
 * Honesty rules (issue 13): errors come first; a run with no successful answer has no latency and
 * no throughput to show (latency over failed requests is not a latency); and the speed columns
 * are ranked only among the runs with the fewest errors, so a run that failed requests can never
 * look best by being fast at the few it answered.
 */

export interface Column {
  readonly key: string;
  readonly label: string;
  /** undefined when the run has no value (e.g. the sticky ratio of a non-sticky policy). */
  value(run: PolicyRun): number | undefined;
  /** Which way is better, for ranked columns (and "more even" for the spread columns). */
  readonly better: 'higher' | 'lower';
  format(value: number): string;
  /** The cell's text when it says more than the ranked value (the errors' count beside their share). */
  text?(run: PolicyRun): string;
  /** Ranked only among the runs with the fewest errors (the speed columns). */
  readonly speed?: boolean;
  /** Shown only when some run has a value (the SLO verdict) or a value other than 0 (dropped arrivals). */
  readonly shownIf?: 'value' | 'nonzero';
}

const ms = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const ratio = (v: number): string => v.toFixed(2);

/** The share of a run's requests that got no successful answer (0 for a run with no requests). */
function errorRate(run: PolicyRun): number {
  return run.requests === 0 ? 0 : run.errors / run.requests;
}

function percent(fraction: number): string {
  const p = fraction * 100;
  return p === 0 ? '0%' : p < 0.1 ? '<0.1%' : `${p >= 10 ? p.toFixed(0) : p.toFixed(1)}%`;
}

/** A latency figure, or undefined when nothing succeeded (the recorder's zeros mean "no data"). */
const latency = (pick: (l: PolicyRun['latencyMs']) => number) => (run: PolicyRun): number | undefined =>
  run.requests - run.errors > 0 ? pick(run.latencyMs) : undefined;

export const COLUMNS: readonly Column[] = [
  { key: 'slo', label: 'SLO', value: (r) => (r.slo === undefined ? undefined : r.slo.pass ? 1 : 0), better: 'higher', format: (v) => (v === 1 ? 'pass' : 'FAIL'), shownIf: 'value' },
  { key: 'errors', label: 'errors', value: (r) => errorRate(r), better: 'lower', format: percent, text: (r) => (r.errors === 0 ? '0' : `${r.errors} (${percent(errorRate(r))})`) },
  // Arrivals the open-loop generator could not send (already among the errors): overload shows here first.
  { key: 'dropped', label: 'dropped', value: (r) => r.dropped, better: 'lower', format: (v) => String(v), shownIf: 'nonzero' },
  { key: 'throughput', label: 'ok/s', value: (r) => (r.requests - r.errors > 0 ? r.throughputRps : undefined), better: 'higher', format: (v) => v.toFixed(1), speed: true },
  { key: 'mean', label: 'mean ms', value: latency((l) => l.mean), better: 'lower', format: ms, speed: true },
  { key: 'p50', label: 'p50 ms', value: latency((l) => l.p50), better: 'lower', format: ms, speed: true },
  { key: 'p90', label: 'p90 ms', value: latency((l) => l.p90), better: 'lower', format: ms, speed: true },
  { key: 'p99', label: 'p99 ms', value: latency((l) => l.p99), better: 'lower', format: ms, speed: true },
  { key: 'p999', label: 'p99.9 ms', value: latency((l) => l.p999), better: 'lower', format: ms, speed: true },
  // The dispatcher queue's share of the latency above (mean wait per attempt): queueing apart from service.
  { key: 'queue', label: 'queue ms', value: (r) => r.queueWaitMs?.mean, better: 'lower', format: ms, speed: true },
  // Imbalance and Jain say how evenly requests were spread. On a heterogeneous fleet an even spread
  // is not the goal (round-robin is perfectly even and slowest), so they are shown but not ranked.
  { key: 'imbalance', label: 'max/mean', value: (r) => r.imbalance, better: 'lower', format: ratio },
  { key: 'jain', label: 'Jain', value: (r) => r.jain, better: 'higher', format: ratio },
  { key: 'sticky', label: 'sticky hit', value: (r) => r.stickyHitRatio, better: 'higher', format: (v) => `${(v * 100).toFixed(1)}%` },
];

/** Columns whose best value is marked. The spread columns are descriptive, see above. */
const RANKED = new Set(['errors', 'throughput', 'mean', 'p50', 'p90', 'p99', 'p999', 'queue', 'sticky']);

export interface Cell {
  readonly text: string;
  readonly best: boolean;
}

/** The columns a summary of these runs shows: all but the optional ones no run has a value for. */
export function visibleColumns(runs: readonly PolicyRun[]): Column[] {
  return COLUMNS.filter((col) => {
    if (col.shownIf === undefined) return true;
    const values = runs.map((r) => col.value(r)).filter((v) => v !== undefined);
    return col.shownIf === 'value' ? values.length > 0 : values.some((v) => v !== 0);
  });
}

/** One row of cells per run, one cell per visible column; a cell is best when it ties the best value of a ranked column among 2+ candidate runs. */
export function summaryCells(runs: readonly PolicyRun[]): Cell[][] {
  const columns = visibleColumns(runs);
  const fewestErrors = Math.min(...runs.map(errorRate));
  const bests = columns.map((col) => {
    if (!RANKED.has(col.key)) return undefined;
    const candidates = col.speed ? runs.filter((r) => errorRate(r) === fewestErrors) : runs;
    const values = candidates.map((r) => col.value(r)).filter((v): v is number => v !== undefined && Number.isFinite(v));
    // A speed column may crown the only run without errors; others need two values to compare.
    if (runs.length < 2 || values.length < (col.speed ? 1 : 2)) return undefined;
    return { value: col.better === 'higher' ? Math.max(...values) : Math.min(...values), candidates: new Set(candidates) };
  });
  return runs.map((run) =>
    columns.map((col, i) => {
      const v = col.value(run);
      if (v === undefined || !Number.isFinite(v)) return { text: '-', best: false };
      const best = bests[i];
      // Compare as displayed: two values that print the same are the same to the reader.
      const isBest = best !== undefined && best.candidates.has(run) && col.format(v) === col.format(best.value);
      return { text: col.text?.(run) ?? col.format(v), best: isBest };
    }),
  );
}

/** One line per run that missed the report's SLO, saying which thresholds and by how much; [] without an SLO. */
function sloLines(report: Report): string[] {
  if (report.slo === undefined) return [];
  const failed = report.runs.filter((r) => r.slo?.pass === false);
  if (failed.length === 0) return [`SLO ${report.slo}: every policy passed`];
  return [`SLO ${report.slo}: ${failed.length} of ${report.runs.length} policies failed`, ...failed.map((r) => `  ${r.policy}: ${r.slo?.failed.join(', ')}`)];
}

/** A warning per live run whose generator sent more than 1% of its arrivals late: its latencies are partly the machine's. */
function lateLines(report: Report): string[] {
  return report.runs
    .filter((r) => r.late !== undefined && r.requests > 0 && r.late / r.requests > 0.01)
    .map((r) => `warning: ${r.policy}: the load generator sent ${r.late} of ${r.requests} arrivals 10 ms or more late (send lag p99 ${r.sendLagMs?.p99.toFixed(1)} ms, max ${r.sendLagMs?.max.toFixed(1)} ms): the machine, not only the policy, set these latencies`);
}

/** What a reader must know under the table: the SLO verdicts, a generator that fell behind, an interrupted run. */
export function noteLines(report: Report): string[] {
  const interrupted = report.interrupted === undefined ? [] : [`interrupted: not measured: ${report.interrupted.notFinished.join(', ')}`];
  return [...interrupted, ...sloLines(report), ...lateLines(report)];
}
