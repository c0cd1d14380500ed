import type { PolicyRun } from '../core/report.js';

/**
 * The per-policy columns every summary shows (terminal table, Markdown, HTML), with which way is
 * better, so each renderer marks the same best value. Defined once so the three never disagree.
 */

export interface Column {
  readonly key: string;
  readonly label: string;
  /** undefined when the run has no value (e.g. the sticky ratio of a non-sticky policy). */
  value(run: PolicyRun): number | undefined;
  /** Which way is better, for ranked columns (and "more even" for the spread columns). */
  readonly better: 'higher' | 'lower';
  format(value: number): string;
}

const ms = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const ratio = (v: number): string => v.toFixed(2);

export const COLUMNS: readonly Column[] = [
  { key: 'throughput', label: 'req/s', value: (r) => r.throughputRps, better: 'higher', format: (v) => v.toFixed(1) },
  { key: 'mean', label: 'mean ms', value: (r) => r.latencyMs.mean, better: 'lower', format: ms },
  { key: 'p50', label: 'p50 ms', value: (r) => r.latencyMs.p50, better: 'lower', format: ms },
  { key: 'p90', label: 'p90 ms', value: (r) => r.latencyMs.p90, better: 'lower', format: ms },
  { key: 'p99', label: 'p99 ms', value: (r) => r.latencyMs.p99, better: 'lower', format: ms },
  { key: 'p999', label: 'p99.9 ms', value: (r) => r.latencyMs.p999, better: 'lower', format: ms },
  { key: 'errors', label: 'errors', value: (r) => r.errors, better: 'lower', format: (v) => String(v) },
  // Imbalance and Jain say how evenly requests were spread. On a heterogeneous fleet an even spread
  // is not the goal (round-robin is perfectly even and slowest), so they are shown but not ranked.
  { key: 'imbalance', label: 'max/mean', value: (r) => r.imbalance, better: 'lower', format: ratio },
  { key: 'jain', label: 'Jain', value: (r) => r.jain, better: 'higher', format: ratio },
  { key: 'sticky', label: 'sticky hit', value: (r) => r.stickyHitRatio, better: 'higher', format: (v) => `${(v * 100).toFixed(1)}%` },
];

/** Columns whose best value is marked. The spread columns are descriptive, see above. */
const RANKED = new Set(['throughput', 'mean', 'p50', 'p90', 'p99', 'p999', 'errors', 'sticky']);

export interface Cell {
  readonly text: string;
  readonly best: boolean;
}

/** One row of cells per run; a cell is best when it ties the best value of a ranked column among 2+ runs. */
export function summaryCells(runs: readonly PolicyRun[]): Cell[][] {
  const bests = COLUMNS.map((col) => {
    const values = runs.map((r) => col.value(r)).filter((v): v is number => v !== undefined && Number.isFinite(v));
    if (!RANKED.has(col.key) || values.length < 2) return undefined;
    return col.better === 'higher' ? Math.max(...values) : Math.min(...values);
  });
  return runs.map((run) =>
    COLUMNS.map((col, i) => {
      const v = col.value(run);
      if (v === undefined || !Number.isFinite(v)) return { text: '-', best: false };
      // Compare as displayed: two values that print the same are the same to the reader.
      const best = bests[i] !== undefined && col.format(v) === col.format(bests[i]);
      return { text: col.format(v), best };
    }),
  );
}
