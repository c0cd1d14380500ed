/**
 * Prometheus text exposition (version 0.0.4) → samples, and the arithmetic `compare` needs on
 * them: the difference of two scrapes (counters and histogram buckets, before/after a run), sums by
 * label, and a quantile from histogram buckets (the same linear interpolation as PromQL's
 * histogram_quantile). Only what prom-client emits is supported: no exemplars, no OpenMetrics.
 */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?\s*$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/y;

function unescapeLabel(text: string): string {
  return text.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text); // NaN stays NaN, as exposed
}

function parseLabels(text: string, lineNo: number): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const start = LABEL.lastIndex;
    const m = LABEL.exec(text);
    if (!m) {
      if (text.slice(start).trim() === '') break;
      throw new Error(`metrics line ${lineNo}: bad label set near "${text.slice(start, start + 30)}"`);
    }
    labels[m[1]] = unescapeLabel(m[2]);
  }
  return labels;
}

/** Parse an exposition; comments (# HELP, # TYPE) are skipped. Throws with the line number on junk. */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = SAMPLE_LINE.exec(line);
    if (!m) throw new Error(`metrics line ${i + 1}: not a sample: "${line.slice(0, 80)}"`);
    out.push({ name: m[1], labels: m[3] ? parseLabels(m[3], i + 1) : {}, value: parseValue(m[4]) });
  });
  return out;
}

function seriesKey(s: Pick<Sample, 'name' | 'labels'>): string {
  return `${s.name}{${Object.keys(s.labels).sort().map((k) => `${k}=${JSON.stringify(s.labels[k])}`).join(',')}}`;
}

/**
 * after − before for every series of `after` (a series absent before counts from 0). Meant for
 * counters and histogram series; for a gauge the difference is rarely what you want.
 */
export function diffMetrics(before: readonly Sample[], after: readonly Sample[]): Sample[] {
  const old = new Map(before.map((s) => [seriesKey(s), s.value]));
  return after.map((s) => ({ ...s, value: s.value - (old.get(seriesKey(s)) ?? 0) }));
}

export type LabelFilter = Readonly<Record<string, string | ((value: string) => boolean)>>;

function matches(s: Sample, filter: LabelFilter): boolean {
  for (const [k, want] of Object.entries(filter)) {
    const v = s.labels[k];
    if (v === undefined) return false;
    if (typeof want === 'string' ? v !== want : !want(v)) return false;
  }
  return true;
}

export function select(samples: readonly Sample[], name: string, filter: LabelFilter = {}): Sample[] {
  return samples.filter((s) => s.name === name && matches(s, filter));
}

export function sumOf(samples: readonly Sample[], name: string, filter: LabelFilter = {}): number {
  return select(samples, name, filter).reduce((acc, s) => acc + s.value, 0);
}

/** Sum of `name` grouped by one label's value. */
export function sumBy(samples: readonly Sample[], name: string, label: string, filter: LabelFilter = {}): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of select(samples, name, filter)) {
    const key = s.labels[label];
    if (key !== undefined) out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return out;
}

/**
 * The q-quantile (0..1) of histogram `base` (its `_bucket` series, summed over the other labels),
 * interpolated linearly inside the bucket as PromQL does; undefined when it has no observations.
 * A quantile in the +Inf bucket returns the highest finite bound.
 */
export function histogramQuantile(samples: readonly Sample[], base: string, q: number, filter: LabelFilter = {}): number | undefined {
  const byBound = new Map<number, number>();
  for (const s of select(samples, `${base}_bucket`, filter)) {
    const le = parseValue(s.labels.le ?? 'NaN');
    if (!Number.isNaN(le)) byBound.set(le, (byBound.get(le) ?? 0) + s.value);
  }
  const buckets = [...byBound].sort((a, b) => a[0] - b[0]);
  const total = buckets.length > 0 ? buckets[buckets.length - 1][1] : 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (const [bound, count] of buckets) {
    if (count >= rank) {
      if (bound === Infinity) return prevBound;
      const inBucket = count - prevCount;
      return inBucket <= 0 ? bound : prevBound + ((bound - prevBound) * (rank - prevCount)) / inBucket;
    }
    prevBound = bound;
    prevCount = count;
  }
  return prevBound;
}

/** GET a /metrics URL and parse it; a non-200 answer is an error naming the URL. */
export async function scrape(url: string, timeoutMs = 5000): Promise<Sample[]> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`scrape ${url}: HTTP ${res.status}`);
  return parseMetrics(await res.text());
}
