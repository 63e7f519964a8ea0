import os from 'node:os';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ServerEventMap, ServerEvents } from '../events.js';
import { BATCH_SIZE_BUCKETS, LATENCY_BUCKETS_SECONDS } from './buckets.js';
import { CustomMetrics, DEFAULT_CUSTOM_METRIC_LIMITS, type CustomMetricLimits } from './custom-metrics.js';
import { TorchServeMetrics } from './torchserve-metrics.js';

const MODEL_LABELS = ['model_name', 'model_version'] as const;

type Listener<K extends keyof ServerEventMap> = (...args: ServerEventMap[K]) => void;

export interface ServerMetricsOptions {
  /** Node.js process metrics (CPU, memory, event loop, GC) of the server process. */
  processMetrics?: boolean;
  customLimits?: CustomMetricLimits;
  /** The `hostname`/`Hostname` label of TorchServe's metrics (default: this machine's name). */
  hostname?: string;
  /** TorchServe's host gauges: CPU, memory and disk (`disable_system_metrics` turns them off). */
  systemMetrics?: boolean;
  /** When a worker was started (epoch ms), for `WorkerLoadTime` once it reports ready. */
  workerStartedAt?: (model: string, version: string, workerId: string) => number | undefined;
}

/**
 * The server's Prometheus metrics. Names follow TorchServe's (`ts_inference_requests_total`,
 * `ts_queue_latency_*`, `ts_inference_latency_*`) so its dashboards carry over, but latencies are real
 * histograms in seconds rather than cumulative microsecond counters. Each server owns its registry,
 * so several servers in one process (tests) never share or clash.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'model_name' | 'model_version' | 'hostname' | 'status'>;
  private readonly queueLatency: Histogram<'model_name' | 'model_version'>;
  private readonly inferenceLatency: Histogram<'model_name' | 'model_version'>;
  private readonly requestLatency: Histogram<'model_name' | 'model_version'>;
  private readonly batchSize: Histogram<'model_name' | 'model_version'>;
  private readonly queueDepth: Gauge<'model_name' | 'model_version'>;
  private readonly workersAlive: Gauge<'model_name' | 'model_version'>;
  private readonly workerRestarts: Counter<'model_name' | 'model_version'>;
  private readonly workerRss: Gauge<'model_name' | 'model_version' | 'worker_id'>;
  private readonly retries: Counter<'model_name' | 'model_version' | 'cause'>;
  private readonly retriesFailed: Counter<'model_name' | 'model_version' | 'cause'>;
  private readonly custom: CustomMetrics;
  private readonly torchserve: TorchServeMetrics;
  private readonly hostname: string;
  private readonly alive = new Map<string, Set<string>>();
  /** Labelled children per model version: looking a series up by its labels on every request costs more than recording it. */
  private readonly series = new Map<string, RequestSeries>();
  private readonly unsubscribers: Array<() => void> = [];

  constructor(private readonly events: ServerEvents, options: ServerMetricsOptions = {}) {
    const registers = [this.registry];
    this.hostname = options.hostname ?? os.hostname();
    this.requests = new Counter({
      name: 'ts_inference_requests_total',
      help: 'Inference requests answered, by model, version, host (as TorchServe labels it) and HTTP status',
      labelNames: [...MODEL_LABELS, 'hostname', 'status'],
      registers,
    });
    this.queueLatency = new Histogram({
      name: 'ts_queue_latency_seconds',
      help: 'Time requests waited in the model queue before a worker took them',
      labelNames: MODEL_LABELS,
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.inferenceLatency = new Histogram({
      name: 'ts_inference_latency_seconds',
      help: 'Time the batch holding a request spent in the handler',
      labelNames: MODEL_LABELS,
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.requestLatency = new Histogram({
      name: 'ts_request_latency_seconds',
      help: 'End-to-end time from a request arriving to its response being written',
      labelNames: MODEL_LABELS,
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.batchSize = new Histogram({
      name: 'ts_batch_size',
      help: 'Requests per batch handed to a worker',
      labelNames: MODEL_LABELS,
      buckets: BATCH_SIZE_BUCKETS,
      registers,
    });
    this.queueDepth = new Gauge({
      name: 'ts_queue_depth',
      help: 'Requests waiting in the model queue',
      labelNames: MODEL_LABELS,
      registers,
    });
    this.workersAlive = new Gauge({
      name: 'ts_workers_alive',
      help: 'Worker processes running for the model',
      labelNames: MODEL_LABELS,
      registers,
    });
    this.workerRestarts = new Counter({
      name: 'ts_worker_restarts_total',
      help: 'Workers that ended unexpectedly (crash, timeout, out of memory) and were replaced',
      labelNames: MODEL_LABELS,
      registers,
    });
    this.workerRss = new Gauge({
      name: 'ts_worker_rss_bytes',
      help: 'Resident memory of each worker process',
      labelNames: [...MODEL_LABELS, 'worker_id'],
      registers,
    });
    this.retries = new Counter({
      name: 'ts_request_retries_total',
      help: 'Requests tried again, alone, after the worker running their batch died or ran past the response timeout (cause: died, timeout)',
      labelNames: [...MODEL_LABELS, 'cause'],
      registers,
    });
    this.retriesFailed = new Counter({
      name: 'ts_request_retries_failed_total',
      help: 'Retried requests that lost their worker again, alone (requests that crash or hang the handler): answered 500 WorkerDied or 504 HandlerTimeout and not tried again',
      labelNames: [...MODEL_LABELS, 'cause'],
      registers,
    });
    this.custom = new CustomMetrics(this.registry, options.customLimits ?? DEFAULT_CUSTOM_METRIC_LIMITS);
    this.torchserve = new TorchServeMetrics(this.registry, {
      hostname: this.hostname,
      systemMetrics: options.systemMetrics ?? true,
      workerStartedAt: options.workerStartedAt,
    });
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });

    this.on('request.finished', (e) => {
      const series = this.requestSeries(e.model, e.version);
      let requests = series.requests.get(e.status);
      if (requests === undefined) series.requests.set(e.status, (requests = this.requests.labels(e.model, e.version, this.hostname, String(e.status))));
      requests.inc();
      series.requestLatency.observe(e.totalMs / 1000);
      // A request refused before queueing or that never reached a handler has no such time to report.
      if (e.queueMs > 0 || e.inferenceMs > 0) series.queueLatency.observe(e.queueMs / 1000);
      if (e.inferenceMs > 0) series.inferenceLatency.observe(e.inferenceMs / 1000);
      this.torchserve.requestFinished(e);
    });
    this.on('http.response', (e) => this.torchserve.httpResponse(e.status));
    this.on('batch.finished', (e) => {
      this.requestSeries(e.model, e.version).batchSize.observe(e.size);
      this.torchserve.batchFinished(e);
    });
    this.on('queue.depth', (e) => this.queueDepth.set({ model_name: e.model, model_version: e.version }, e.depth));
    this.on('worker.started', (e) => {
      const set = this.workerSet(e.model, e.version);
      set.add(e.workerId);
      this.workersAlive.set({ model_name: e.model, model_version: e.version }, set.size);
      this.torchserve.workerReady(e.model, e.version, e.workerId);
    });
    this.on('worker.exited', (e) => {
      const labels = { model_name: e.model, model_version: e.version };
      const set = this.workerSet(e.model, e.version);
      set.delete(e.workerId);
      this.workersAlive.set(labels, set.size);
      this.workerRss.remove({ ...labels, worker_id: e.workerId });
      this.torchserve.workerGone(e.workerId);
      if (!e.expected) this.workerRestarts.inc(labels);
    });
    this.on('worker.memory', (e) => {
      // A late sample from a worker that already exited would resurrect its series.
      if (!this.workerSet(e.model, e.version).has(e.workerId)) return;
      this.workerRss.set({ model_name: e.model, model_version: e.version, worker_id: e.workerId }, e.rssBytes);
    });
    this.on('request.retried', (e) => this.retries.inc({ model_name: e.model, model_version: e.version, cause: e.cause }));
    this.on('request.retryFailed', (e) => this.retriesFailed.inc({ model_name: e.model, model_version: e.version, cause: e.cause }));
    this.on('custom.metric', (e) => this.custom.record(e));
    this.on('model.registered', (e) => {
      const labels = { model_name: e.model, model_version: e.version };
      this.queueDepth.set(labels, 0);
      this.workersAlive.set(labels, this.workerSet(e.model, e.version).size);
      this.workerRestarts.inc(labels, 0);
    });
    this.on('model.unregistered', (e) => {
      // Gauges of a model that is gone would report stale values forever; counters keep their totals.
      const labels = { model_name: e.model, model_version: e.version };
      this.queueDepth.remove(labels);
      this.workersAlive.remove(labels);
      for (const workerId of this.workerSet(e.model, e.version)) this.workerRss.remove({ ...labels, worker_id: workerId });
      this.alive.delete(key(e.model, e.version));
      // The counters keep their series; only the cached handles go, so a re-registered version starts afresh.
      this.series.delete(key(e.model, e.version));
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric, or of those named (unknown names give nothing). */
  async render(names?: readonly string[]): Promise<string> {
    if (names === undefined) return this.registry.metrics();
    const parts = await Promise.all(
      [...new Set(names)].map((name) => (this.registry.getSingleMetric(name) === undefined ? '' : this.registry.getSingleMetricAsString(name))),
    );
    return parts.filter((p) => p !== '').map((p) => `${p}\n`).join('');
  }

  /** Stops observing the server's events. */
  close(): void {
    for (const off of this.unsubscribers.splice(0)) off();
  }

  private on<K extends keyof ServerEventMap>(event: K, listener: Listener<K>): void {
    // The emitter is typed per event; the cast only bridges EventEmitter's generic overloads.
    const emitter = this.events as unknown as { on(e: K, l: Listener<K>): void; off(e: K, l: Listener<K>): void };
    emitter.on(event, listener);
    this.unsubscribers.push(() => emitter.off(event, listener));
  }

  private requestSeries(model: string, version: string): RequestSeries {
    const k = key(model, version);
    let series = this.series.get(k);
    if (series === undefined) {
      series = {
        requests: new Map(),
        requestLatency: this.requestLatency.labels(model, version),
        queueLatency: this.queueLatency.labels(model, version),
        inferenceLatency: this.inferenceLatency.labels(model, version),
        batchSize: this.batchSize.labels(model, version),
      };
      this.series.set(k, series);
    }
    return series;
  }

  private workerSet(model: string, version: string): Set<string> {
    const k = key(model, version);
    let set = this.alive.get(k);
    if (set === undefined) this.alive.set(k, (set = new Set()));
    return set;
  }
}

interface RequestSeries {
  /** By HTTP status. */
  requests: Map<number, { inc(): void }>;
  requestLatency: { observe(value: number): void };
  queueLatency: { observe(value: number): void };
  inferenceLatency: { observe(value: number): void };
  batchSize: { observe(value: number): void };
}

function key(model: string, version: string): string {
  return `${model}\u0000${version}`;
}
