import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import type { SweepReport } from '../sim/sweep.js';

/**
 * A sweep's outputs (sim/sweep.ts): a text table of mean and p99 per policy at each load, and the
 * latency-against-load chart (mean solid, p99 dashed, the theory's means dotted in grey, log
 * latency axis so the knee and the tail both show), written as sweep.json, sweep.svg and a
 * self-contained sweep.html.
 */

function loadOf(report: SweepReport, point: SweepReport['points'][number]): number {
  return report.sweep.parameter === 'utilisation' ? (point.utilisation ?? Number.NaN) : point.rateRps;
}

export function sweepTable(report: SweepReport): string {
  const policies = report.points[0]?.runs.map((r) => r.policy) ?? [];
  const x = report.sweep.parameter === 'utilisation' ? 'utilisation' : 'req/s';
  const head = [x.padStart(11), ...policies.map((p) => `${p} mean/p99 ms`.padStart(Math.max(22, p.length + 16)))].join(' ');
  const rows = report.points.map((pt) => {
    const load = report.sweep.parameter === 'utilisation' ? loadOf(report, pt).toFixed(3) : pt.rateRps.toFixed(1);
    return [load.padStart(11), ...pt.runs.map((r, i) => {
      const cell = r.requests > r.errors ? `${r.meanMs.toFixed(1)} / ${r.p99Ms.toFixed(1)}` : 'no successes';
      return `${cell}${r.errors > 0 ? ` (${r.errors} err)` : ''}`.padStart(Math.max(22, policies[i].length + 16));
    })].join(' ');
  });
  return [head, ...rows].join('\n');
}

export function sweepChartSpec(report: SweepReport): TopLevelSpec {
  const xTitle = report.sweep.parameter === 'utilisation' ? 'utilisation (offered load per replica)' : 'arrival rate (req/s)';
  const measured = report.points.flatMap((pt) =>
    pt.runs.filter((r) => r.requests > r.errors).flatMap((r) => [
      { load: loadOf(report, pt), series: r.policy, statistic: 'mean', ms: r.meanMs },
      { load: loadOf(report, pt), series: r.policy, statistic: 'p99', ms: r.p99Ms },
    ]),
  );
  const theory = report.points.flatMap((pt) =>
    pt.theory === undefined
      ? []
      : [
          { load: loadOf(report, pt), series: 'theory: random (M/M/1)', ms: pt.theory.random },
          { load: loadOf(report, pt), series: 'theory: central queue (M/M/c)', ms: pt.theory.centralQueue },
          { load: loadOf(report, pt), series: 'theory: power of two (limit)', ms: pt.theory.powerOfTwo },
        ],
  );
  const x = { field: 'load', type: 'quantitative', title: xTitle } as const;
  const y = { field: 'ms', type: 'quantitative', title: 'latency (ms, log scale)', scale: { type: 'log' } } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 560,
    height: 320,
    config: { font: 'sans-serif', view: { stroke: null } },
    title: `${report.scenario}: latency against load (mean solid, p99 dashed, theory dotted)`,
    layer: [
      {
        data: { values: measured },
        mark: { type: 'line', point: true },
        encoding: { x, y, color: { field: 'series', type: 'nominal', title: 'policy' }, strokeDash: { field: 'statistic', type: 'nominal', title: 'statistic' } },
      },
      ...(theory.length === 0
        ? []
        : [{ data: { values: theory }, mark: { type: 'line', strokeDash: [2, 3], color: '#777' }, encoding: { x, y, detail: { field: 'series', type: 'nominal' }, tooltip: [{ field: 'series' }] } }]),
    ],
  } as TopLevelSpec;
}

export interface WrittenSweep {
  readonly dir: string;
  readonly svg: string;
}

export async function writeSweep(report: SweepReport, dir: string): Promise<WrittenSweep> {
  await mkdir(dir, { recursive: true });
  // Loaded here, not at the top: Vega is ~25 MB of heap that every CLI process would carry (report/write.ts).
  const { renderSvg } = await import('./charts.js');
  const svg = await renderSvg(sweepChartSpec(report));
  await writeFile(join(dir, 'sweep.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(dir, 'sweep.svg'), svg);
  const escape = (t: string): string => t.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  await writeFile(
    join(dir, 'sweep.html'),
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>dispatchlab sweep: ${escape(report.scenario)}</title></head>\n<body style="font: 15px/1.45 system-ui, sans-serif; max-width: 980px; margin: 2rem auto">\n<h1>Latency against load: ${escape(report.scenario)}</h1>\n${svg}\n<pre>${escape(sweepTable(report))}</pre>\n</body></html>\n`,
  );
  return { dir, svg: join(dir, 'sweep.svg') };
}
