import type { Report } from '../core/report.js';
import type { Baseline, TheoryBlock } from '../sim/theory-block.js';

/**
 * The report's theory block (sim/theory-block.ts) as people read it: the queueing models' mean
 * response and wait times beside each policy's measured mean, at 2 decimals (the block itself
 * keeps full precision for tools). One structure, rendered as text under the terminal table, as a
 * Markdown table and as an HTML table, so the three say the same thing.
 */

interface TheoryRow {
  readonly model: string;
  readonly meanResponseMs?: number;
  readonly meanWaitMs?: number;
  readonly note: string;
}

interface TheorySummary {
  readonly applicable: boolean;
  /** One line: replicas, arrival rate, service mean, utilisation; or why no baseline applies. */
  readonly intro: string;
  readonly rows: readonly TheoryRow[];
  /** The baselines the scenario does not admit, while others apply, and why: one sentence each. */
  readonly omitted: readonly string[];
  /** Each run's measured mean latency, and its ratio to the central queue's (the best possible) when that baseline applies. */
  readonly measured: ReadonlyArray<{ readonly policy: string; readonly meanMs: number; readonly vsBest?: number }>;
  readonly sources: readonly string[];
}

const ms = (x: number | undefined): string => (x === undefined ? '-' : `${x.toFixed(2)} ms`);

/** Each baseline's row label; the block names them by key. */
function modelName(baseline: Baseline, vcpus: number | undefined): string {
  switch (baseline) {
    case 'random':
      return vcpus === 1 ? 'random assignment (M/G/1-PS each)' : `random assignment (M/M/${vcpus} each)`;
    case 'roundRobin':
      return 'round robin (E_n/M/1 each)';
    case 'centralQueue':
      return 'central queue (M/M/c, Erlang C)';
    case 'powerOfTwo':
      return 'power of two (supermarket limit)';
  }
}

/** "a, b and c". */
function listed(names: readonly string[]): string {
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/** The ratio to the central queue, when there is one to compare with. */
const vsBest = (m: TheorySummary['measured'][number]): string => (m.vsBest === undefined ? '' : `${m.vsBest.toFixed(2)}x the central queue`);

/** A baseline's row, or none when the scenario does not admit it. */
function row(model: string, q: { readonly meanResponseMs: number; readonly meanWaitMs?: number } | undefined, note: string): TheoryRow[] {
  return q === undefined ? [] : [{ model, meanResponseMs: q.meanResponseMs, meanWaitMs: q.meanWaitMs, note }];
}

function theorySummary(report: Report): TheorySummary | undefined {
  const theory = report.theory as TheoryBlock | undefined;
  if (theory === undefined || typeof theory.applicable !== 'boolean') return undefined;
  if (!theory.applicable) return { applicable: false, intro: `no analytic baseline: ${theory.reasons.join('; ')}`, rows: [], omitted: [], measured: [], sources: [] };
  const best = theory.centralQueue?.meanResponseMs;
  const named = (baseline: Baseline): string => modelName(baseline, theory.vcpus);
  return {
    applicable: true,
    intro: `${theory.servers} replicas of ${theory.vcpus} vCPU, ${theory.arrivalRps} rps, mean service ${ms(theory.serviceMs)}, utilisation ${theory.utilisation?.toFixed(3)}`,
    rows: [
      ...row(named('random'), theory.random, ''),
      ...row(named('roundRobin'), theory.roundRobin, ''),
      ...row(named('centralQueue'), theory.centralQueue, 'the best any dispatcher can do'),
      ...row(named('powerOfTwo'), theory.powerOfTwo, 'n -> infinity'),
    ],
    omitted: (theory.omitted ?? []).map((o) => `no ${listed(o.baselines.map(named))} baseline${o.baselines.length > 1 ? 's' : ''}: ${o.reason}`),
    measured: report.runs
      .filter((r) => r.requests > r.errors)
      .map((r) => ({ policy: r.policy, meanMs: r.latencyMs.mean, ...(best === undefined ? {} : { vsBest: r.latencyMs.mean / best }) })),
    sources: theory.sources ?? [],
  };
}

/** Under the terminal table. */
export function theoryText(report: Report): string {
  const t = theorySummary(report);
  if (t === undefined) return '';
  if (!t.applicable) return t.intro;
  return [
    `theory: ${t.intro}`,
    ...t.rows.map((r) => `  ${r.model.padEnd(33)} mean ${ms(r.meanResponseMs)}${r.note === '' ? '' : `  (${r.note})`}`),
    ...t.measured.map((m) => `  measured ${m.policy.padEnd(24)} mean ${ms(m.meanMs)}${m.vsBest === undefined ? '' : `  (${vsBest(m)})`}`),
    ...t.omitted.map((why) => `  ${why}`),
  ].join('\n');
}

export function theoryMarkdown(report: Report): string[] {
  const t = theorySummary(report);
  if (t === undefined) return [];
  if (!t.applicable) return ['## Theory', '', t.intro];
  return [
    '## Theory',
    '',
    t.intro,
    '',
    '| model or policy | mean response | mean wait | note |',
    '|---|---:|---:|---|',
    ...t.rows.map((r) => `| ${r.model} | ${ms(r.meanResponseMs)} | ${ms(r.meanWaitMs)} | ${r.note} |`),
    ...t.measured.map((m) => `| measured: ${m.policy.replace(/\|/g, '\\|')} | ${ms(m.meanMs)} | | ${vsBest(m)} |`),
    '',
    ...t.omitted.flatMap((why) => [why, '']),
    ...t.sources.map((s) => `- ${s}`),
  ];
}

export function theoryHtml(report: Report, escape: (text: string) => string): string {
  const t = theorySummary(report);
  if (t === undefined) return '';
  if (!t.applicable) return `<p>${escape(t.intro)}</p>`;
  const rows = [
    ...t.rows.map((r) => `<tr><td>${escape(r.model)}</td><td>${ms(r.meanResponseMs)}</td><td>${ms(r.meanWaitMs)}</td><td>${escape(r.note)}</td></tr>`),
    ...t.measured.map((m) => `<tr><td>measured: ${escape(m.policy)}</td><td>${ms(m.meanMs)}</td><td></td><td>${vsBest(m)}</td></tr>`),
  ];
  return `<p>${escape(t.intro)}</p><table><tr><th>model or policy</th><th>mean response</th><th>mean wait</th><th>note</th></tr>${rows.join('')}</table>${t.omitted.map((why) => `<p>${escape(why)}</p>`).join('')}${
    t.sources.length === 0 ? '' : `<ul>${t.sources.map((s) => `<li>${escape(s)}</li>`).join('')}</ul>`
  }`;
}
