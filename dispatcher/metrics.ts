import { Counter, Gauge, Registry, exponentialBuckets, type Aggregator, type Metric } from 'prom-client';
import type { RequestEvents } from '../core/request-events.js';
import type { BackendId, Millis } from '../core/types.js';
import type { BackendState } from '../policies/policy.js';
import type { BackendStatus, BalancerObserver } from './balancer/types.js';

/**
 * The dispatcher's Prometheus metrics (docs/metrics.md, "Dispatcher"), in one Registry of its own.
 * The request counts are a sink of the request events (core/request-events.ts) the HTTP side
 * emits, the very events a run's report is built from (core/run-accumulator.ts), so Prometheus and
 * the report count the same things; ejections, refusal reasons and sticky hits come from the
 * Balancer (as its observer); levels (in-flight, queue length, backend state and weight) are read
 * from the Balancer at scrape time in `collect()`, so they cannot drift from the truth.
 *
 * Under `--workers N` the primary serves the sum over the workers' registries (prom-client's
 * AggregatorRegistry.aggregate): counters, histograms, in-flight and queue length add up; each
 * gauge that is a state rather than an amount names its `aggregator` below.
 */

const STATES: readonly BackendState[] = ['healthy', 'ejected', 'draining', 'down'];
/** 0.5 ms .. ~16 s: loopback proxying is sub-millisecond, a queued request may wait seconds. */
const LATENCY_BUCKETS_S = exponentialBuckets(0.0005, 2, 16);
/**
 * The same, below a bucket of its own for 0: a request dispatched at once waited exactly 0, and
 * without that bucket histogram_quantile interpolates inside (0, 0.5 ms] and reports a p99 of
 * 0.495 ms for a queue nobody waited in. With it the quantile of an unqueued run is exactly 0.
 */
const QUEUE_WAIT_BUCKETS_S = [0, ...LATENCY_BUCKETS_S];

/** One histogram series: a count per bucket (not cumulative), the sum and the count. */
export class HistogramSeries {
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly upperBounds: readonly number[],
  ) {
    this.counts = upperBounds.map(() => 0);
  }

  observe(value: number): void {
    const bounds = this.upperBounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    if (i < bounds.length) this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

interface ExportedValue {
  readonly metricName: string;
  readonly value: number;
  readonly labels: Record<string, string | number>;
  readonly sharedLabels?: Readonly<Record<string, string>>;
  /** prom-client's buckets carry an exemplar slot, null without exemplars. */
  readonly exemplar?: null;
}

/**
 * A Prometheus histogram counted in plain arrays and handed to the Registry at scrape time.
 * prom-client's Histogram hashes and validates the labels and searches a bucket object on every
 * observe (~4% of the proxy's CPU per request, two histograms); here a request adds to its
 * series' array and the exposition is built when scraped. It exports exactly what prom-client's
 * Histogram exports (the same value objects: `getForPromString` for the text format, `get` with
 * the labels merged for getMetricsAsJSON, so the cluster aggregation sums it as before).
 */
export class ArrayHistogram {
  readonly type = 'histogram';
  readonly aggregator: Aggregator = 'sum';
  /** By the label values joined: a series made again (after a policy change back) counts on. */
  private readonly series = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    private readonly upperBounds: readonly number[],
    registry: Registry,
  ) {
    // The Registry asks only for what prom-client's own metrics have: name, type, get, reset.
    registry.registerMetric(this as unknown as Metric);
  }

  /** The series of these label values (one per label name, in order); keep it and observe on it. */
  labels(...values: string[]): HistogramSeries {
    const key = values.join('\0');
    let series = this.series.get(key);
    if (series === undefined) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((name, i) => (labels[name] = values[i]));
      series = new HistogramSeries(labels, this.upperBounds);
      this.series.set(key, series);
    }
    return series;
  }

  getForPromString(): { name: string; help: string; type: string; values: ExportedValue[]; aggregator: Aggregator } {
    const bucketName = `${this.name}_bucket`;
    const values: ExportedValue[] = [];
    for (const series of this.series.values()) {
      let cumulative = 0;
      this.upperBounds.forEach((le, i) => {
        cumulative += series.counts[i];
        values.push({ metricName: bucketName, value: cumulative, labels: { le }, sharedLabels: series.labels, exemplar: null });
      });
      values.push(
        { metricName: bucketName, value: series.count, labels: { le: '+Inf' }, sharedLabels: series.labels, exemplar: null },
        { metricName: `${this.name}_sum`, value: series.sum, labels: {}, sharedLabels: series.labels },
        { metricName: `${this.name}_count`, value: series.count, labels: {}, sharedLabels: series.labels },
      );
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** As prom-client's Histogram.get: the series' labels merged into each value's own. */
  get(): ReturnType<ArrayHistogram['getForPromString']> {
    const data = this.getForPromString();
    data.values = data.values.map(({ sharedLabels, ...value }) => ({ ...value, labels: { ...value.labels, ...sharedLabels } }));
    return data;
  }

  /** As prom-client's reset: every series starts again from nothing. */
  reset(): void {
    for (const series of this.series.values()) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }
}

/**
 * One backend's request series under the current policy, resolved once instead of a label object
 * and a `labels` lookup per request. prom-client 15 still hashes a child's labels when it counts,
 * so this saves the lookups and allocations, not the hash.
 */
interface BackendSeries {
  readonly duration: HistogramSeries;
  readonly retries: Counter.Internal;
  readonly attemptFailures: Counter.Internal;
  /** By answer code, as codes occur: a handful per backend. */
  readonly requests: Map<string, PendingCount>;
}

/** A series' count not yet handed to prom-client (PendingCounter). */
interface PendingCount {
  count: number;
}

/**
 * A prom-client Counter counted in plain numbers: a series is resolved once and counted with `++`,
 * and its collect() adds what was counted when scraped. prom-client hashes and validates a
 * series' labels on every inc(), child or not (0.4 µs a request for the sticky hit counter in
 * BENCHMARKS.md's profile). Series are kept across policy changes, as prom-client keeps them.
 */
class PendingCounter<L extends string> {
  private readonly pending = new Map<string, { readonly labels: Readonly<Record<L, string>>; count: number }>();

  constructor(name: string, help: string, private readonly labelNames: readonly L[], registers: Registry[]) {
    const pending = this.pending;
    new Counter<L>({
      name, help, labelNames, registers,
      collect() {
        for (const series of pending.values()) {
          if (series.count === 0) continue;
          this.inc(series.labels as Partial<Record<L, string>>, series.count);
          series.count = 0;
        }
      },
    });
  }

  /** The series of these labels: keep it and count on it. */
  series(labels: Readonly<Record<L, string>>): PendingCount {
    const key = this.labelNames.map((name) => labels[name]).join('\0');
    let series = this.pending.get(key);
    if (series === undefined) this.pending.set(key, (series = { labels, count: 0 }));
    return series;
  }
}

/** What the metrics read at scrape time. */
export interface MetricsSource {
  backends(): readonly BackendStatus[];
  queueLength(): number;
  /** Panic mode (docs/dispatcher.md): too few backends healthy, so every one takes traffic. */
  readonly panic: boolean;
}

export class DispatcherMetrics implements RequestEvents {
  readonly registry: Registry;
  readonly observer: BalancerObserver;
  private policy: string;
  private source?: MetricsSource;

  private readonly requests: PendingCounter<'policy' | 'backend' | 'code'>;
  private readonly duration: ArrayHistogram;
  private readonly queueWait: ArrayHistogram;
  private readonly retries: Counter<'policy' | 'backend'>;
  private readonly attemptFailures: Counter<'policy' | 'backend'>;
  private readonly policyInfo: Gauge<'policy'>;
  /** Each backend's series, made on its first request, dropped when it leaves or the policy changes. */
  private readonly series = new Map<BackendId, BackendSeries>();
  private queueWaitSeries: HistogramSeries;
  private readonly stickyHits: PendingCounter<'policy'>;
  private readonly stickyMisses: PendingCounter<'policy'>;
  /** The sticky counters' series under the current policy: a sticky policy counts one per request. */
  private stickyHitSeries: PendingCount;
  private stickyMissSeries: PendingCount;

  constructor(policyLabel: string, registry: Registry = new Registry()) {
    this.registry = registry;
    this.policy = policyLabel;
    const registers = [registry];

    this.requests = new PendingCounter(
      'dispatchlab_requests_total',
      'Requests answered, by backend and HTTP status (error: connection failure, timeout: 504, 499: client left first; backend none: refused or not routable, e.g. 400, 405)',
      ['policy', 'backend', 'code'],
      registers,
    );
    this.duration = new ArrayHistogram('dispatchlab_request_duration_seconds', 'Time from arrival at the dispatcher to the end of the response', ['policy', 'backend'], LATENCY_BUCKETS_S, registry);
    this.queueWait = new ArrayHistogram('dispatchlab_queue_wait_seconds', 'Time an attempt spent in the dispatcher queue before dispatch (0 for one dispatched on arrival)', ['policy'], QUEUE_WAIT_BUCKETS_S, registry);
    this.retries = new Counter({ name: 'dispatchlab_retries_total', help: 'Retries sent to the backend', labelNames: ['policy', 'backend'], registers });
    this.attemptFailures = new Counter({ name: 'dispatchlab_attempt_failures_total', help: "Attempts that failed by the backend's fault (connect error, reset, timeout, 5xx), retried or not", labelNames: ['policy', 'backend'], registers });
    const ejections = new Counter({ name: 'dispatchlab_ejections_total', help: 'Passive outlier ejections', labelNames: ['backend'], registers });
    const refused = new Counter({ name: 'dispatchlab_refused_total', help: 'Requests refused (no-backend, queue-full, queue-timeout; policy-error: the policy failed, answered 500)', labelNames: ['policy', 'reason'], registers });
    this.stickyHits = new PendingCounter('dispatchlab_sticky_hits_total', 'Sticky sessions that stayed on their pinned replica', ['policy'], registers);
    this.stickyMisses = new PendingCounter('dispatchlab_sticky_misses_total', 'Sticky sessions moved off their pinned replica', ['policy'], registers);
    // Every worker gets every policy change, so they agree; summing would count the workers.
    this.policyInfo = new Gauge({ name: 'dispatchlab_policy_info', help: '1 for the policy in use, 0 for ones used before', labelNames: ['policy'], registers, aggregator: 'max' });
    this.policyInfo.set({ policy: policyLabel }, 1);
    this.queueWaitSeries = this.queueWait.labels(policyLabel);
    this.stickyHitSeries = this.stickyHits.series({ policy: policyLabel });
    this.stickyMissSeries = this.stickyMisses.series({ policy: policyLabel });

    const read = (): MetricsSource | undefined => this.source;
    const policyOf = (): string => this.policy;
    new Gauge({
      name: 'dispatchlab_queue_length', help: 'Requests waiting in the dispatcher queue', labelNames: ['policy'], registers,
      collect() {
        this.reset();
        this.set({ policy: policyOf() }, read()?.queueLength() ?? 0);
      },
    });
    new Gauge({
      name: 'dispatchlab_panic', help: '1 while too few backends are healthy and down or ejected ones take traffic too (panic mode)', labelNames: ['policy'], registers, aggregator: 'max',
      collect() {
        this.reset();
        this.set({ policy: policyOf() }, read()?.panic === true ? 1 : 0);
      },
    });
    const perBackend = (name: string, help: string, value: (b: BackendStatus) => number, aggregator: Aggregator = 'sum'): void => {
      new Gauge({
        name, help, labelNames: ['backend'], registers, aggregator,
        collect() {
          this.reset();
          for (const b of read()?.backends() ?? []) this.set({ backend: b.id }, value(b));
        },
      });
    };
    perBackend('dispatchlab_backend_in_flight', 'Requests dispatched to the backend and not yet answered', (b) => b.inFlight);
    // Each worker health-checks for itself: up only while every worker finds it eligible.
    perBackend('dispatchlab_backend_up', '1 when the backend is eligible (healthy), else 0', (b) => (b.healthy ? 1 : 0), 'min');
    perBackend('dispatchlab_backend_weight', "The backend's current weight", (b) => b.weight, 'max');
    new Gauge({
      // With workers: 1 for every state some worker has it in.
      name: 'dispatchlab_backend_state', help: "1 for the backend's current state, 0 for the others", labelNames: ['backend', 'state'], registers, aggregator: 'max',
      collect() {
        this.reset();
        for (const b of read()?.backends() ?? []) {
          for (const state of STATES) this.set({ backend: b.id, state }, b.state === state ? 1 : 0);
        }
      },
    });

    this.observer = {
      onRefused: (reason) => refused.inc({ policy: this.policy, reason }),
      onEjection: (backend) => ejections.inc({ backend }),
      onSticky: (hit) => {
        (hit ? this.stickyHitSeries : this.stickyMissSeries).count++;
      },
    };
  }

  /** The Balancer whose levels the gauges read (it is built after the metrics, which it observes). */
  bind(source: MetricsSource): void {
    this.source = source;
  }

  policyChanged(label: string): void {
    this.policyInfo.set({ policy: this.policy }, 0);
    this.policy = label;
    this.policyInfo.set({ policy: label }, 1);
    this.series.clear();
    this.queueWaitSeries = this.queueWait.labels(label);
    this.stickyHitSeries = this.stickyHits.series({ policy: label });
    this.stickyMissSeries = this.stickyMisses.series({ policy: label });
  }

  /** The backend left the set: forget its series (those already counted stay in the registry). */
  backendRemoved(backend: BackendId): void {
    this.series.delete(backend);
  }

  private seriesOf(backend: BackendId): BackendSeries {
    let series = this.series.get(backend);
    if (series === undefined) {
      const labels = { policy: this.policy, backend };
      series = {
        duration: this.duration.labels(this.policy, backend),
        retries: this.retries.labels(labels),
        attemptFailures: this.attemptFailures.labels(labels),
        requests: new Map(),
      };
      this.series.set(backend, series);
    }
    return series;
  }

  arrived(): void {
    // Counted when answered: dispatchlab_requests_total is by answer code.
  }

  admitted(_arrivedAtMs: Millis, backend: BackendId, queueWaitMs: Millis, attempt: number): void {
    this.queueWaitSeries.observe(queueWaitMs / 1000);
    if (attempt > 1) this.seriesOf(backend).retries.inc();
  }

  attemptEnded(_arrivedAtMs: Millis, backend: BackendId, failed: boolean): void {
    if (failed) this.seriesOf(backend).attemptFailures.inc();
  }

  answered(_arrivedAtMs: Millis, backend: BackendId, code: string, latencyMs: Millis): void {
    const series = this.seriesOf(backend);
    let requests = series.requests.get(code);
    if (requests === undefined) series.requests.set(code, (requests = this.requests.series({ policy: this.policy, backend, code })));
    requests.count++;
    series.duration.observe(latencyMs / 1000);
  }
}
