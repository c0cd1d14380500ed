import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import type { Report } from '../core/report.js';

/**
 * The report's charts, as vega-lite specs rendered to SVG in Node (vega's headless 'none'
 * renderer: no browser, no canvas, no native dependency). One function per chart builds its rows
 * from the report; `renderCharts` turns those with data into SVG. Mode-agnostic.
 */

export interface Chart {
  /** Section id in the HTML page. */
  readonly id: string;
  readonly title: string;
  /** One sentence on how to read it. */
  readonly caption: string;
  readonly spec: TopLevelSpec;
  /** Rows plotted; a chart with none is left out rather than drawn empty. */
  readonly rows: number;
}

export interface RenderedChart extends Omit<Chart, 'spec'> {
  readonly svg: string;
}

const WIDTH = 560;
const HEIGHT = 260;

function base(rows: object[]) {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values: rows },
    width: WIDTH,
    height: HEIGHT,
    config: { font: 'sans-serif', view: { stroke: null } },
  };
}

/** Policies keep the report's order in legends and bar groups (not alphabetical). */
function policyColor(report: Report) {
  return { field: 'policy', type: 'nominal', title: 'policy', sort: report.runs.map((r) => r.policy) } as const;
}
function policyOffset(report: Report) {
  return { field: 'policy', type: 'nominal', sort: report.runs.map((r) => r.policy) } as const;
}

const natural = new Intl.Collator('en', { numeric: true });

/**
 * A categorical x axis for per-replica or per-VM bars: labels in natural order (web-2 before
 * web-10), upright while a few fit, turned vertical past that, and the chart widened so each
 * label keeps room for its group of bars (10 to 100 replicas stay legible, never overlapping).
 */
function labelAxis(labels: readonly string[], title: string, groupSize: number) {
  const sorted = [...new Set(labels)].sort(natural.compare);
  const many = sorted.length > 8;
  return {
    width: Math.max(WIDTH, sorted.length * Math.max(groupSize, 1) * 6),
    x: { field: 'label', type: 'nominal', title, sort: sorted, axis: { labelAngle: many ? -90 : 0, labelOverlap: false, labelLimit: 160 } },
  } as const;
}

export function latencyCdfChart(report: Report): Chart {
  // A log x axis cannot show 0; the CDF's first points are well above it anyway.
  const rows = report.runs.flatMap((run) => (run.cdf ?? []).filter(([ms]) => ms > 0).map(([ms, fraction]) => ({ policy: run.policy, ms, fraction })));
  return {
    id: 'latency-cdf',
    title: 'Latency CDF per policy',
    caption: 'Fraction of requests answered within a latency (log scale). Further left is faster; the top of each curve is the tail.',
    rows: rows.length,
    spec: {
      ...base(rows),
      mark: { type: 'line', interpolate: 'step-after' },
      encoding: {
        x: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'latency (ms, log scale)' },
        y: { field: 'fraction', type: 'quantitative', title: 'fraction of requests', scale: { domain: [0, 1] } },
        color: policyColor(report),
      },
    } as TopLevelSpec,
  };
}

/** Past this many replicas (or VMs) a bar each is no longer readable: the chart ranks them instead. */
export const MAX_LABELLED = 100;

/** One replica's (or VM's) figure under one policy. */
interface PerUnitRow {
  readonly policy: string;
  readonly label: string;
  readonly host: string;
  readonly value: number;
}

/**
 * A per-replica (or per-VM) chart: a group of bars per label while there are at most MAX_LABELLED
 * labels; past that, a data centre's hundreds or thousands, one line per policy over its units
 * ranked by the figure, largest first, so the spread (a flat line, or a few units far above the
 * rest) shows at any fleet size. The unit's name is in the tooltip.
 */
function perUnitSpec(
  report: Report,
  rows: readonly PerUnitRow[],
  unit: { readonly label: string; readonly plural: string },
  y: { readonly title: string; readonly format?: string },
): { spec: TopLevelSpec; ranked: boolean; units: number } {
  const units = new Set(rows.map((r) => r.label)).size;
  const yEncoding = { field: 'value', type: 'quantitative', title: y.title, ...(y.format === undefined ? {} : { axis: { format: y.format } }) } as const;
  const tooltip = [{ field: 'label', title: unit.label }, { field: 'host' }, { field: 'value', title: y.title, ...(y.format === undefined ? {} : { format: `.2${y.format}` }) }];
  if (units <= MAX_LABELLED) {
    const axis = labelAxis(rows.map((r) => r.label), unit.label, report.runs.length);
    const spec = { ...base([...rows]), width: axis.width, mark: 'bar', encoding: { x: axis.x, xOffset: policyOffset(report), y: yEncoding, color: policyColor(report), tooltip } };
    return { spec: spec as TopLevelSpec, ranked: false, units };
  }
  const ranked = report.runs.flatMap((run) =>
    rows
      .filter((r) => r.policy === run.policy)
      .sort((a, b) => b.value - a.value)
      .map((r, i) => ({ ...r, rank: i + 1 })),
  );
  const spec = {
    ...base(ranked),
    mark: 'line',
    encoding: {
      x: { field: 'rank', type: 'quantitative', title: `${unit.plural} ranked, largest first (${units} in all)`, scale: { domain: [1, units] } },
      y: yEncoding,
      color: policyColor(report),
      tooltip,
    },
  };
  return { spec: spec as TopLevelSpec, ranked: true, units };
}

export function requestShareChart(report: Report): Chart {
  const rows = report.runs.flatMap((run) => run.backends.map((b) => ({ policy: run.policy, label: b.id, host: b.host, value: b.share })));
  const { spec, ranked, units } = perUnitSpec(report, rows, { label: 'replica', plural: 'replicas' }, { title: 'share of requests', format: '%' });
  return {
    id: 'request-share',
    title: 'Request share per replica',
    caption: ranked
      ? `Fraction of each policy's requests that each replica served, its ${units} replicas sorted from the busiest down. A flat line is an even spread, which is not the goal when replicas differ; a steep start means a few replicas took far more than the rest.`
      : 'Fraction of each policy\'s requests that each replica served. Equal bars mean an even spread, which is not the goal when replicas differ.',
    rows: rows.length,
    spec,
  };
}

/**
 * On a fleet past MAX_LABELLED replicas, where the request-share chart ranks replicas and so no
 * longer says which ones a policy favoured: what one replica of each kind (scenario `vms[].kind`)
 * served on average under each policy. Left out on smaller fleets (their bars name every replica),
 * when every replica is a kind of its own, and when the report does not give the replicas' kinds.
 */
export function kindShareChart(report: Report): Chart {
  const replicas = new Set(report.runs.flatMap((run) => run.backends.map((b) => b.id))).size;
  const kinds = new Set(report.runs.flatMap((run) => run.backends.map((b) => b.kind))).size;
  // A kind per replica would repeat the request-share chart.
  const rows =
    replicas <= MAX_LABELLED || kinds >= replicas
      ? []
      : report.runs.flatMap((run) => {
          const kinds = new Map<string, { share: number; replicas: number; hosts: Set<string> }>();
          for (const b of run.backends) {
            if (b.kind === undefined) continue;
            const kind = kinds.get(b.kind) ?? { share: 0, replicas: 0, hosts: new Set<string>() };
            kind.share += b.share;
            kind.replicas++;
            kind.hosts.add(b.host);
            kinds.set(b.kind, kind);
          }
          return [...kinds].map(([name, k]) => ({ policy: run.policy, label: `${name} (${k.replicas})`, host: `${k.hosts.size} hosts`, value: k.share / k.replicas }));
        });
  const { spec } = perUnitSpec(report, rows, { label: 'VM kind (its replicas)', plural: 'VM kinds' }, { title: 'mean share per replica', format: '%' });
  return {
    id: 'kind-share',
    title: 'Request share per replica, by VM kind',
    caption:
      'Fraction of each policy\'s requests that one replica of each kind served, on average over its replicas (a kind is scenario vms[].kind, by default the name of the entry). Equal bars mean the policy treats every kind alike.',
    rows: rows.length,
    spec,
  };
}

export function stealChart(report: Report): Chart {
  // Every VM when the run has them (a noisy neighbour is not a backend), else the replicas.
  const rows = report.runs.flatMap((run) =>
    run.vms !== undefined
      ? run.vms.map((v) => ({ policy: run.policy, label: `${v.vm} (${v.host})`, host: v.host, value: v.stealSeconds }))
      : run.backends.filter((b) => b.stealSeconds !== undefined).map((b) => ({ policy: run.policy, label: `${b.id} (${b.host})`, host: b.host, value: b.stealSeconds ?? 0 })),
  );
  const { spec, ranked, units } = perUnitSpec(report, rows, { label: 'VM (host)', plural: 'VMs' }, { title: 'steal (s)' });
  const what = 'vCPU seconds each VM wanted and the hypervisor gave to another VM or to the host OS, during the measured window';
  return {
    id: 'steal',
    title: 'Steal time per VM',
    caption: ranked ? `${what}, under each policy its ${units} VMs sorted from the most stolen from down.` : `${what}.`,
    // Nothing stolen anywhere: an empty chart says less than leaving it out.
    rows: rows.some((r) => r.value > 0) ? rows.length : 0,
    spec,
  };
}

/**
 * One small chart per policy (facets share the x axis, each has its own y): overload and failures
 * show where they happen. The warm-up, before the measured window, is shaded.
 */
export function timelineChart(report: Report): Chart {
  const rows = report.runs.flatMap((run) => {
    const warmS = (run.timelineWarmupMs ?? 0) / 1000;
    return (run.timeline ?? []).flatMap((p) => [
      { policy: run.policy, s: p.tMs / 1000, quantile: 'p50', ms: p.p50, warmS },
      { policy: run.policy, s: p.tMs / 1000, quantile: 'p99', ms: p.p99, warmS },
    ]);
  });
  const x = { field: 's', type: 'quantitative', title: 'time since the run started (s); shaded: warm-up, not measured' } as const;
  return {
    id: 'timeline',
    title: 'Latency over time, per policy',
    caption: 'p50 (solid) and p99 (dashed) of the successful requests that arrived in each interval, warm-up (shaded) included; each policy on its own latency scale.',
    rows: rows.length,
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      data: { values: rows },
      config: { font: 'sans-serif', view: { stroke: null } },
      facet: { row: { field: 'policy', type: 'nominal', title: null, sort: report.runs.map((r) => r.policy) } },
      resolve: { scale: { y: 'independent' } },
      spec: {
        width: WIDTH,
        height: 110,
        layer: [
          {
            mark: { type: 'rect', color: '#999', opacity: 0.15 },
            encoding: { x: { aggregate: 'min', field: 'warmS', type: 'quantitative', title: x.title, scale: { zero: true } }, x2: { datum: 0 } },
          },
          {
            mark: { type: 'line', point: false },
            encoding: {
              x,
              y: { field: 'ms', type: 'quantitative', title: 'latency (ms)' },
              color: policyColor(report),
              strokeDash: { field: 'quantile', type: 'nominal', title: 'quantile' },
            },
          },
        ],
      },
    } as TopLevelSpec,
  };
}

function reportCharts(report: Report): Chart[] {
  return [latencyCdfChart(report), requestShareChart(report), kindShareChart(report), stealChart(report), timelineChart(report)];
}

/** vega-lite → vega → SVG, headless. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** The report's charts that have data, as SVG. */
export async function renderCharts(report: Report): Promise<RenderedChart[]> {
  const out: RenderedChart[] = [];
  for (const { spec, ...chart } of reportCharts(report)) {
    if (chart.rows > 0) out.push({ ...chart, svg: await renderSvg(spec) });
  }
  return out;
}
