import type { PolicyRun } from './report.js';

/**
 * Service-level objectives as k6 writes its thresholds: `p99<200ms,errors<1%` on the command line
 * (`--slo`) or in a scenario (`slo:`). Each threshold is `metric op value`:
 *
 * - latency: mean, p50, p90, p99, p99.9 (or p999), max, and queue (mean dispatcher queue wait);
 *   the value in ms, s or us (a bare number is ms);
 * - errors: a share of the requests with `%` (`errors<1%`), else a count (`errors<=0`);
 * - throughput (or rps): successful answers per second (`rps>100`);
 *
 * with op one of < <= > >=. A run passes when every threshold holds; a run with no successful
 * answer has no latency, so every latency threshold fails for it.
 */

type Metric = 'mean' | 'p50' | 'p90' | 'p99' | 'p999' | 'max' | 'queue' | 'errors' | 'throughput';
type Op = '<' | '<=' | '>' | '>=';

export interface SloThreshold {
  readonly metric: Metric;
  readonly op: Op;
  /** In the metric's unit: ms, a fraction (errors with %), a count (errors), requests/s. */
  readonly value: number;
  /** errors only: the value is a share of the requests, not a count. */
  readonly share: boolean;
  /** As written, for messages. */
  readonly text: string;
}

export interface SloResult {
  readonly pass: boolean;
  /** The thresholds that failed, each with the value measured, e.g. "p99<200ms (was 250 ms)". */
  readonly failed: readonly string[];
}

const METRICS: Readonly<Record<string, Metric>> = {
  mean: 'mean', p50: 'p50', p90: 'p90', p99: 'p99', 'p99.9': 'p999', p999: 'p999', max: 'max', queue: 'queue',
  errors: 'errors', throughput: 'throughput', rps: 'throughput',
};
const LATENCY_UNITS: Readonly<Record<string, number>> = { '': 1, ms: 1, s: 1000, us: 0.001 };
const THRESHOLD = /^([a-z0-9.]+)\s*(<=|>=|<|>)\s*([0-9]*\.?[0-9]+)\s*([a-z%]*)$/;

export class SloError extends Error {
  override name = 'SloError';
}

/** Parse `p99<200ms,errors<1%`; throws SloError naming the bad threshold and what is expected. */
export function parseSlo(text: string): SloThreshold[] {
  const parts = text.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0) throw new SloError('expected thresholds such as p99<200ms,errors<1%');
  return parts.map((part) => {
    const m = THRESHOLD.exec(part.toLowerCase());
    const metric = m === null ? undefined : METRICS[m[1]];
    if (m === null || metric === undefined) {
      throw new SloError(`"${part}": expected METRIC<VALUE with METRIC one of mean, p50, p90, p99, p99.9, max, queue, errors, rps (e.g. p99<200ms, errors<1%)`);
    }
    const [, , op, number, unit] = m;
    const value = Number(number);
    if (metric === 'errors') {
      if (unit !== '' && unit !== '%') throw new SloError(`"${part}": errors take a share (1%) or a count (0), not "${unit}"`);
      return { metric, op: op as Op, value: unit === '%' ? value / 100 : value, share: unit === '%', text: part };
    }
    if (metric === 'throughput') {
      if (unit !== '' && unit !== 'rps') throw new SloError(`"${part}": throughput is in requests per second, not "${unit}"`);
      return { metric, op: op as Op, value, share: false, text: part };
    }
    const scale = LATENCY_UNITS[unit];
    if (scale === undefined) throw new SloError(`"${part}": a latency takes ms, s or us, not "${unit}"`);
    return { metric, op: op as Op, value: value * scale, share: false, text: part };
  });
}

function measured(run: PolicyRun, t: SloThreshold): number | undefined {
  const answered = run.requests - run.errors > 0;
  switch (t.metric) {
    case 'errors':
      return t.share ? (run.requests === 0 ? 0 : run.errors / run.requests) : run.errors;
    case 'throughput':
      return run.throughputRps;
    case 'queue':
      return run.queueWaitMs?.mean;
    default:
      return answered ? run.latencyMs[t.metric] : undefined;
  }
}

function holds(value: number, op: Op, limit: number): boolean {
  switch (op) {
    case '<':
      return value < limit;
    case '<=':
      return value <= limit;
    case '>':
      return value > limit;
    case '>=':
      return value >= limit;
  }
}

function describe(value: number | undefined, t: SloThreshold): string {
  if (value === undefined) return 'no successful answer';
  if (t.metric === 'errors') return t.share ? `${(value * 100).toFixed(2)}%` : String(value);
  if (t.metric === 'throughput') return `${value.toFixed(1)} rps`;
  return `${value.toFixed(2)} ms`;
}

export function checkSlo(run: PolicyRun, thresholds: readonly SloThreshold[]): SloResult {
  const failed: string[] = [];
  for (const t of thresholds) {
    const value = measured(run, t);
    if (value === undefined || !holds(value, t.op, t.value)) failed.push(`${t.text} (was ${describe(value, t)})`);
  }
  return { pass: failed.length === 0, failed };
}

/** The report with each run's SLO result, and the SLO it was checked against; unchanged without one. */
export function withSlo<R extends { readonly runs: readonly PolicyRun[] }>(report: R, slo: string | undefined): R & { slo?: string } {
  if (slo === undefined) return report;
  const thresholds = parseSlo(slo);
  return { ...report, slo, runs: report.runs.map((run) => ({ ...run, slo: checkSlo(run, thresholds) })) };
}

/** Whether every run met its SLO (true when none was asked for). */
export function sloMet(report: { readonly runs: readonly PolicyRun[] }): boolean {
  return report.runs.every((run) => run.slo?.pass !== false);
}
