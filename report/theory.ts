import type { Report } from '../core/report.js';
import type { TheoryBlock } from '../sim/theory-block.js';

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
  /** Each run's measured mean latency and its ratio to the central queue's (the best possible). */
  readonly measured: ReadonlyArray<{ readonly policy: string; readonly meanMs: number; readonly vsBest: number }>;
  readonly sources: readonly string[];
}

const ms = (x: number | undefined): string => (x === undefined ? '-' : `${x.toFixed(2)} ms`);

/** A baseline's row, or none when the scenario does not admit it. */
function row(model: string, q: { readonly meanResponseMs: number; readonly meanWaitMs?: number } | undefined, note: string): TheoryRow[] {
  return q === undefined ? [] : [{ model, meanResponseMs: q.meanResponseMs, meanWaitMs: q.meanWaitMs, note }];
}

function theorySummary(report: Report): TheorySummary | undefined {
  const theory = report.theory as TheoryBlock | undefined;
  if (theory === undefined || typeof theory.applicable !== 'boolean') return undefined;
  if (!theory.applicable) return { applicable: false, intro: `no analytic baseline: ${theory.reasons.join('; ')}`, rows: [], measured: [], sources: [] };
  const best = theory.centralQueue?.meanResponseMs ?? Number.NaN;
  return {
    applicable: true,
    intro: `${theory.servers} replicas of ${theory.vcpus} vCPU, ${theory.arrivalRps} rps, mean service ${ms(theory.serviceMs)}, utilisation ${theory.utilisation?.toFixed(3)}`,
    rows: [
      ...row(theory.vcpus === 1 ? 'random assignment (M/G/1-PS each)' : `random assignment (M/M/${theory.vcpus} each)`, theory.random, ''),
      ...row('round robin (E_n/M/1 each)', theory.roundRobin, ''),
      ...row('central queue (M/M/c, Erlang C)', theory.centralQueue, 'the best any dispatcher can do'),
      ...row('power of two (supermarket limit)', theory.powerOfTwo, 'n -> infinity'),
      ...(theory.omitted ?? []).map((why) => ({ model: `no ${why}`, note: '' })),
    ],
    measured: report.runs.filter((r) => r.requests > r.errors).map((r) => ({ policy: r.policy, meanMs: r.latencyMs.mean, vsBest: r.latencyMs.mean / best })),
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
    ...t.measured.map((m) => `  measured ${m.policy.padEnd(24)} mean ${ms(m.meanMs)}  (${m.vsBest.toFixed(2)}x the central queue)`),
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
    ...t.measured.map((m) => `| measured: ${m.policy.replace(/\|/g, '\\|')} | ${ms(m.meanMs)} | | ${m.vsBest.toFixed(2)}x the central queue |`),
    '',
    ...t.sources.map((s) => `- ${s}`),
  ];
}

export function theoryHtml(report: Report, escape: (text: string) => string): string {
  const t = theorySummary(report);
  if (t === undefined) return '';
  if (!t.applicable) return `<p>${escape(t.intro)}</p>`;
  const rows = [
    ...t.rows.map((r) => `<tr><td>${escape(r.model)}</td><td>${ms(r.meanResponseMs)}</td><td>${ms(r.meanWaitMs)}</td><td>${escape(r.note)}</td></tr>`),
    ...t.measured.map((m) => `<tr><td>measured: ${escape(m.policy)}</td><td>${ms(m.meanMs)}</td><td></td><td>${m.vsBest.toFixed(2)}x the central queue</td></tr>`),
  ];
  return `<p>${escape(t.intro)}</p><table><tr><th>model or policy</th><th>mean response</th><th>mean wait</th><th>note</th></tr>${rows.join('')}</table>${
    t.sources.length === 0 ? '' : `<ul>${t.sources.map((s) => `<li>${escape(s)}</li>`).join('')}</ul>`
  }`;
}
