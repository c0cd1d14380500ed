import * as hdr from 'hdr-histogram-js';
import type { LatencySummary } from './report.js';
import type { Millis } from './types.js';

/**
 * Latency recording for `simulate` and `compare`: an HDR histogram (Gil Tene's HdrHistogram, the
 * hdr-histogram-js port) in whole microseconds with 3 significant digits, so percentiles are within
 * 0.1% at any magnitude and memory stays a few tens of KB however many values are recorded.
 *
 * The mean and the maximum are kept exactly (a running sum, a running max), not read from the
 * histogram buckets: the simulator's theory tests compare means to 3%, and the bucket mean would add
 * its own rounding.
 *
 * Recording is on the simulator's hot path (two values per request), and hdr-histogram-js computes
 * each value's slot with Math.log2 and Math.pow, two floating-point calls per value. So values
 * below 2^31 µs are counted in a front array indexed exactly as HdrHistogram indexes them
 * (bucket = floor(log2 v) - subBucketHalfCountMagnitude, sub-bucket = v >> bucket, with integer
 * operations), and moved into the histogram in one pass, one recordValueWithCount per used slot,
 * before anything reads it: the histogram ends up with the very same counts.
 */

/** Values are stored in microseconds; anything below 1 µs is recorded as 1 µs. */
const US_PER_MS = 1000;
/** Starting range: 1 µs .. 1 h; autoResize grows it if ever needed. */
const HIGHEST_INITIAL_US = 3_600_000_000;

function newHistogram(significantDigits: 2 | 3): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_INITIAL_US,
    numberOfSignificantValueDigits: significantDigits,
    autoResize: true,
    useWebAssembly: false,
  });
}

function toUs(ms: Millis): number {
  const us = Math.round(ms * US_PER_MS);
  return us < 1 ? 1 : us;
}

export interface LatencyRecorder {
  /** Record one latency; negative or NaN values are a caller bug and throw. */
  record(ms: Millis): void;
  /** Number of values recorded. */
  readonly count: number;
  /** Exact mean (ms) of the recorded values; 0 when empty. */
  readonly meanMs: number;
  /** Value at a percentile in [0, 100], in ms. */
  percentile(p: number): Millis;
  summary(): LatencySummary;
  /** `points` CDF points [latencyMs, fraction <= latencyMs], denser in the tail, for charts. */
  cdf(points?: number): Array<[number, number]>;
  /** Add every value of `other` into this recorder. */
  merge(other: LatencyRecorder): void;
  reset(): void;
}

/** Values from 2^31 µs (about 36 minutes) go straight to the histogram. */
const FRONT_LIMIT_US = 2 ** 31;

/** HdrHistogram's subBucketHalfCountMagnitude for a precision (JsHistogram.init, lowest value 1). */
function halfCountMagnitude(significantDigits: number): number {
  return Math.max(1, Math.ceil(Math.log2(2 * Math.pow(10, significantDigits)))) - 1;
}

class HdrLatencyRecorder implements LatencyRecorder {
  readonly histogram: hdr.Histogram;
  private readonly halfMagnitude: number;
  /** Counts not yet moved into the histogram, at HdrHistogram's own slot index. */
  private readonly front: Uint32Array;
  private frontUsed = false;
  private sumMs = 0;
  private maxMs = 0;
  private n = 0;

  constructor(significantDigits: 2 | 3) {
    this.histogram = newHistogram(significantDigits);
    this.halfMagnitude = halfCountMagnitude(significantDigits);
    this.front = new Uint32Array(this.slotOf(FRONT_LIMIT_US - 1) + 1);
  }

  /** HdrHistogram's counts index of integer v >= 1 (JsHistogram.countsArrayIndex, unit magnitude 0). */
  private slotOf(us: number): number {
    const bucket = Math.max(0, 31 - Math.clz32(us) - this.halfMagnitude);
    return (bucket << this.halfMagnitude) + (us >>> bucket);
  }

  /** The lowest value of a slot: it falls in that same slot. */
  private valueOfSlot(slot: number): number {
    // Bucket 0 covers slots [0, 2^(h+1)); bucket b >= 1 covers [(b+1) 2^h, (b+2) 2^h).
    const bucket = Math.max(0, (slot >>> this.halfMagnitude) - 1);
    return (slot - (bucket << this.halfMagnitude)) * 2 ** bucket;
  }

  private flush(): void {
    if (!this.frontUsed) return;
    const front = this.front;
    for (let slot = 0; slot < front.length; slot++) {
      if (front[slot] === 0) continue;
      this.histogram.recordValueWithCount(this.valueOfSlot(slot), front[slot]);
      front[slot] = 0;
    }
    this.frontUsed = false;
  }

  record(ms: Millis): void {
    if (!(ms >= 0)) throw new Error(`latency recorder: cannot record ${ms} ms`);
    const us = toUs(ms);
    if (us < FRONT_LIMIT_US) {
      this.front[this.slotOf(us)]++;
      this.frontUsed = true;
    } else {
      this.histogram.recordValue(us);
    }
    this.sumMs += ms;
    if (ms > this.maxMs) this.maxMs = ms;
    this.n++;
  }

  get count(): number {
    return this.n;
  }

  get meanMs(): number {
    return this.n === 0 ? 0 : this.sumMs / this.n;
  }

  percentile(p: number): Millis {
    if (this.n === 0) return 0;
    this.flush();
    // HdrHistogram answers with the top of a bucket, which can lie above every recorded value:
    // no percentile may exceed the exact maximum.
    return Math.min(this.histogram.getValueAtPercentile(p) / US_PER_MS, this.maxMs);
  }

  summary(): LatencySummary {
    return {
      mean: this.meanMs,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      p999: this.percentile(99.9),
      max: this.maxMs,
    };
  }

  cdf(points = 60): Array<[number, number]> {
    if (this.n === 0) return [];
    // Half the points evenly over [0, 1], the rest at 1 - 10^-k so the tail (p99, p99.9) shows.
    const linear = Math.max(2, Math.ceil(points / 2));
    const fractions = new Set<number>();
    for (let i = 1; i <= linear; i++) fractions.add(i / linear);
    const tail = Math.max(1, points - linear);
    for (let i = 1; i <= tail; i++) fractions.add(1 - Math.pow(10, (-4 * i) / tail));
    return [...fractions]
      .sort((a, b) => a - b)
      .map((f): [number, number] => [this.percentile(f * 100), f]);
  }

  merge(other: LatencyRecorder): void {
    if (!(other instanceof HdrLatencyRecorder)) throw new Error('latency recorder: can only merge another createLatencyRecorder()');
    this.flush();
    other.flush();
    this.histogram.add(other.histogram);
    this.sumMs += other.sumMs;
    this.maxMs = Math.max(this.maxMs, other.maxMs);
    this.n += other.n;
  }

  reset(): void {
    // The live dashboard resets a recorder per backend every second, most with nothing in them:
    // the front is all zeros unless used since its last flush, the histogram empty unless n > 0.
    if (this.n > 0) this.histogram.reset();
    if (this.frontUsed) this.front.fill(0);
    this.frontUsed = false;
    this.sumMs = 0;
    this.maxMs = 0;
    this.n = 0;
  }
}

export function createLatencyRecorder(): LatencyRecorder {
  return new HdrLatencyRecorder(3);
}

export interface TimelinePoint {
  /** The bucket's start, from the timeline's origin (the run's start). */
  readonly tMs: number;
  readonly p50: number;
  readonly p99: number;
  readonly rps: number;
}

export interface LatencyTimeline {
  /** A request that completed (or was sent) at `tMs` took `latencyMs`. */
  record(tMs: Millis, latencyMs: Millis): void;
  /** One point per bucket from the origin's to the last recorded, empty buckets with zeros. */
  points(): TimelinePoint[];
}

/**
 * Latency over time in fixed buckets (bucketMs, relative to `originMs`): per bucket p50, p99 and the
 * completion rate. Buckets use 2-significant-digit histograms (1% precision, a few KB each),
 * which is plenty for a chart; pick bucketMs so a run has at most a few hundred buckets.
 */
export function createLatencyTimeline(bucketMs: Millis, originMs: Millis = 0): LatencyTimeline {
  if (!(bucketMs > 0)) throw new Error(`latency timeline: bucketMs must be > 0, got ${bucketMs}`);
  return new BucketedTimeline(bucketMs, originMs);
}

const F64 = new Float64Array(1);
const I64 = new BigInt64Array(F64.buffer);

/** The next double above a finite x. */
function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE;
  F64[0] = x;
  I64[0] += x > 0 ? 1n : -1n;
  return F64[0];
}

/** Steps from a guess to a bucket's exact boundary: the guess o + k*b is off by a few ulps at most. */
const MAX_BOUNDARY_STEPS = 64;

/**
 * Records run once per simulated request, mostly into the bucket of the record before. So the
 * timeline keeps that bucket and the range of times that falls in it, [lowMs, highMs): found once
 * per bucket by the bucket formula itself (monotone in t, so its boundaries are two doubles), and
 * a record in range costs two comparisons instead of a division and a look-up.
 */
class BucketedTimeline implements LatencyTimeline {
  private readonly buckets: Array<HdrLatencyRecorder | null> = [];
  /** Each bucket's range of times, [lows[i], highs[i]). */
  private readonly lows: number[] = [];
  private readonly highs: number[] = [];
  private current: HdrLatencyRecorder | null = null;
  private lowMs = Infinity;
  private highMs = -Infinity;

  constructor(
    private readonly bucketMs: Millis,
    private readonly originMs: Millis,
  ) {}

  private indexOf(tMs: Millis): number {
    return Math.max(0, Math.floor((tMs - this.originMs) / this.bucketMs));
  }

  record(tMs: Millis, latencyMs: Millis): void {
    if (tMs >= this.lowMs && tMs < this.highMs) {
      (this.current as HdrLatencyRecorder).record(latencyMs);
      return;
    }
    const index = this.indexOf(tMs);
    const buckets = this.buckets;
    while (buckets.length <= index) {
      buckets.push(null);
      this.lows.push(Number.NaN);
      this.highs.push(Number.NaN);
    }
    let bucket = buckets[index];
    if (!bucket) {
      bucket = new HdrLatencyRecorder(2);
      buckets[index] = bucket;
      // Found once per bucket: answers near a boundary go back and forth between two buckets.
      this.lows[index] = index === 0 ? -Infinity : this.firstAtOrAbove(index);
      this.highs[index] = this.firstAtOrAbove(index + 1);
    }
    bucket.record(latencyMs);
    this.current = bucket;
    this.lowMs = this.lows[index];
    this.highMs = this.highs[index];
  }

  /** The smallest time whose bucket is `index` or later; NaN (no fast path) if it is not found near its guess. */
  private firstAtOrAbove(index: number): Millis {
    let t = this.originMs + index * this.bucketMs;
    if (!Number.isFinite(t)) return Number.NaN;
    for (let step = 0; step < MAX_BOUNDARY_STEPS; step++) {
      if (this.indexOf(t) < index) {
        t = nextUp(t);
        continue;
      }
      const below = -nextUp(-t);
      if (this.indexOf(below) < index) return t;
      t = below;
    }
    return Number.NaN;
  }

  points(): TimelinePoint[] {
    const out: TimelinePoint[] = [];
    for (let i = 0; i < this.buckets.length; i++) {
      const b = this.buckets[i];
      // From the origin, as the report's timelineWarmupMs is: live, the origin is a clock reading.
      const tMs = i * this.bucketMs;
      if (b === null) out.push({ tMs, p50: 0, p99: 0, rps: 0 });
      else out.push({ tMs, p50: b.percentile(50), p99: b.percentile(99), rps: (b.count * 1000) / this.bucketMs });
    }
    return out;
  }
}
