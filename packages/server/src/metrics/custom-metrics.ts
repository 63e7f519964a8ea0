import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { CUSTOM_HISTOGRAM_BUCKETS } from './buckets.js';

type Kind = 'counter' | 'gauge' | 'histogram';
type AnyMetric = Counter<string> | Gauge<string> | Histogram<string>;

export interface CustomMetricEvent {
  model: string;
  version: string;
  kind: Kind;
  name: string;
  value: number;
  labels: Record<string, string>;
}

/**
 * Handler code is arbitrary, so what it records is bounded here: a handler that puts request ids
 * in labels or invents metric names per request must not grow the server's memory or its scrape
 * without limit. Anything over a bound is dropped and counted, never an error in the handler.
 */
export interface CustomMetricLimits {
  maxMetrics: number;
  maxSeriesPerMetric: number;
  maxLabels: number;
  maxLabelValueLength: number;
}

export const DEFAULT_CUSTOM_METRIC_LIMITS: CustomMetricLimits = {
  maxMetrics: 100,
  maxSeriesPerMetric: 500,
  maxLabels: 8,
  maxLabelValueLength: 128,
};

/** Handler metrics sit beside the server's (`handler_preprocess_ms` → `ts_handler_preprocess_ms`), never replacing one. */
export const CUSTOM_METRIC_PREFIX = 'ts_';

const NAME_PATTERN = /^[a-zA-Z_][a-zA-Z0-9_]{0,99}$/;
const LABEL_PATTERN = /^[a-zA-Z_][a-zA-Z0-9_]{0,63}$/;
const RESERVED_LABELS = new Set(['model_name', 'model_version', 'le', 'quantile']);

interface Entry {
  kind: Kind;
  labelNames: string[];
  metric: AnyMetric;
  series: Set<string>;
}

export class CustomMetrics {
  private readonly entries = new Map<string, Entry>();
  private readonly dropped: Counter<'reason'>;

  constructor(
    private readonly registry: Registry,
    private readonly limits: CustomMetricLimits = DEFAULT_CUSTOM_METRIC_LIMITS,
  ) {
    this.dropped = new Counter({
      name: 'ts_custom_metrics_dropped_total',
      help: 'Custom metric records from handlers that were dropped, by reason',
      labelNames: ['reason'],
      registers: [registry],
    });
  }

  record(event: CustomMetricEvent): void {
    if (!Number.isFinite(event.value)) return this.drop('invalid_value');
    if (!NAME_PATTERN.test(event.name)) return this.drop('invalid_name');
    const userLabels = Object.keys(event.labels).sort();
    if (userLabels.length > this.limits.maxLabels) return this.drop('too_many_labels');
    if (userLabels.some((l) => !LABEL_PATTERN.test(l) || RESERVED_LABELS.has(l) || l.startsWith('__'))) {
      return this.drop('invalid_label');
    }
    const entry = this.entryFor(event.name, event.kind, userLabels);
    if (entry === undefined) return;
    const labels: Record<string, string> = { model_name: event.model, model_version: event.version };
    for (const l of userLabels) labels[l] = String(event.labels[l]).slice(0, this.limits.maxLabelValueLength);
    const seriesKey = JSON.stringify(entry.labelNames.map((l) => labels[l]));
    if (!entry.series.has(seriesKey)) {
      if (entry.series.size >= this.limits.maxSeriesPerMetric) return this.drop('too_many_series');
      entry.series.add(seriesKey);
    }
    if (entry.kind === 'counter') {
      if (event.value < 0) return this.drop('negative_counter');
      (entry.metric as Counter<string>).inc(labels, event.value);
    } else if (entry.kind === 'gauge') {
      (entry.metric as Gauge<string>).set(labels, event.value);
    } else {
      (entry.metric as Histogram<string>).observe(labels, event.value);
    }
  }

  private entryFor(name: string, kind: Kind, userLabels: string[]): Entry | undefined {
    const existing = this.entries.get(name);
    if (existing !== undefined) {
      // Prometheus needs one type and one label set per metric name; the first record fixes both.
      if (existing.kind !== kind) return void this.drop('kind_mismatch');
      if (existing.labelNames.length !== userLabels.length + 2 || userLabels.some((l) => !existing.labelNames.includes(l))) {
        return void this.drop('label_mismatch');
      }
      return existing;
    }
    if (this.registry.getSingleMetric(CUSTOM_METRIC_PREFIX + name) !== undefined) return void this.drop('reserved_name');
    if (this.entries.size >= this.limits.maxMetrics) return void this.drop('too_many_metrics');
    const labelNames = ['model_name', 'model_version', ...userLabels];
    const config = {
      name: CUSTOM_METRIC_PREFIX + name,
      help: `Handler metric "${name}" (${kind})`,
      labelNames,
      registers: [this.registry],
    };
    const metric: AnyMetric =
      kind === 'counter' ? new Counter(config) : kind === 'gauge' ? new Gauge(config) : new Histogram({ ...config, buckets: CUSTOM_HISTOGRAM_BUCKETS });
    const entry: Entry = { kind, labelNames, metric, series: new Set() };
    this.entries.set(name, entry);
    return entry;
  }

  private drop(reason: string): void {
    this.dropped.inc({ reason });
  }
}
