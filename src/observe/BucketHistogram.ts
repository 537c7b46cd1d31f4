// A Prometheus histogram that observes without touching prom-client. A
// prom-client Histogram hashes and validates its labels on every observe();
// here the caller keeps a series handle, an observation is a short bucket
// search and three number updates, and the cumulative buckets are built only
// when scraped. Registered in a prom-client Registry, it reads as prom-client's
// Histogram does (same JSON from get(), same text), so registry.metrics() and
// AggregatorRegistry.aggregate() treat the two alike.
import type { Metric, Registry } from 'prom-client';

export interface BucketHistogramOptions {
  readonly name: string;
  readonly help: string;
  /** Upper bounds, ascending; "+Inf" is implied. */
  readonly buckets: readonly number[];
  readonly registry: Registry;
}

/** What get() returns: the shape of prom-client's Histogram.get(). */
export interface HistogramJson {
  readonly name: string;
  readonly help: string;
  readonly type: 'histogram';
  readonly aggregator: 'sum';
  readonly values: Array<{ labels: Record<string, string | number>; value: number; metricName: string; exemplar?: null }>;
}

/** One label set's observations. */
export class HistogramSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly #bounds: readonly number[];
  /** Observations per bucket, not cumulative; the last slot is above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(labels: Readonly<Record<string, string>>, bounds: readonly number[]) {
    this.labels = labels;
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    // prom-client throws here; a metric must not fail the Check it measures.
    if (!Number.isFinite(value)) return;
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

export class BucketHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #bounds: readonly number[];
  readonly #series: HistogramSeries[] = [];

  constructor(opts: BucketHistogramOptions) {
    this.name = opts.name;
    this.help = opts.help;
    this.#bounds = [...opts.buckets];
    // The registry only calls get() and reset(); its types just name prom-client's own classes.
    opts.registry.registerMetric(this as unknown as Metric);
  }

  /** A new series, reported from now on (with zeros until observed). Keep it: each call makes another. */
  series(labels: Readonly<Record<string, string>> = {}): HistogramSeries {
    const s = new HistogramSeries(labels, this.#bounds);
    this.#series.push(s);
    return s;
  }

  async get(): Promise<HistogramJson> {
    const bucket = `${this.name}_bucket`;
    const values: HistogramJson['values'] = [];
    for (const s of this.#series) {
      let cumulative = 0;
      for (let i = 0; i < this.#bounds.length; i++) {
        cumulative += s.counts[i]!;
        values.push({ value: cumulative, metricName: bucket, exemplar: null, labels: { le: this.#bounds[i]!, ...s.labels } });
      }
      values.push(
        { value: s.count, metricName: bucket, exemplar: null, labels: { le: '+Inf', ...s.labels } },
        { value: s.sum, metricName: `${this.name}_sum`, labels: { ...s.labels } },
        { value: s.count, metricName: `${this.name}_count`, labels: { ...s.labels } },
      );
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Zeroes every series (Registry.resetMetrics); the handles stay valid. */
  reset(): void {
    for (const s of this.#series) s.reset();
  }
}
