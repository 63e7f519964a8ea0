import { statfsSync } from 'node:fs';
import os from 'node:os';
import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * TorchServe's default metric set (`ts/configs/metrics.yaml`) under its own names, labels and units,
 * as its Prometheus mode exposes them, so Grafana dashboards and alerts written for TorchServe query
 * this server unchanged. They sit beside the server's own histograms; docs/api.md maps each to what it
 * measures here. GPU gauges are left out (no GPU probe in the server process).
 */
export class TorchServeMetrics {
  private readonly hostname: string;
  private readonly requests2xx: Counter<'Level' | 'Hostname'>;
  private readonly requests4xx: Counter<'Level' | 'Hostname'>;
  private readonly requests5xx: Counter<'Level' | 'Hostname'>;
  private readonly inferenceLatency: Counter<'model_name' | 'model_version' | 'hostname'>;
  private readonly queueLatency: Counter<'model_name' | 'model_version' | 'hostname'>;
  private readonly queueTime: Gauge<'Level' | 'Hostname'>;
  private readonly workerThreadTime: Gauge<'Level' | 'Hostname'>;
  private readonly workerLoadTime: Gauge<'WorkerName' | 'Level' | 'Hostname'>;
  private readonly handlerTime: Gauge<'ModelName' | 'Level' | 'Hostname'>;
  private readonly predictionTime: Gauge<'ModelName' | 'Level' | 'Hostname'>;
  private cpuTimes = cpuTotals();
  /** Workers ready but not yet in the load-time gauge: a version's workers report ready before its registration completes. */
  private readonly loading = new Map<string, { model: string; version: string; readyAt: number }>();

  constructor(
    registry: Registry,
    private readonly options: {
      hostname: string;
      systemMetrics: boolean;
      /** When a worker was started (epoch ms), once the registry knows it. */
      workerStartedAt?: ((model: string, version: string, workerId: string) => number | undefined) | undefined;
    },
  ) {
    this.hostname = options.hostname;
    const registers = [registry];
    const host = ['Level', 'Hostname'] as const;
    const counter = <L extends string>(name: string, unit: string, labelNames: readonly L[]) =>
      new Counter<L>({ name, help: `TorchServe metric ${name}, unit: ${unit}`, labelNames, registers });
    const gauge = <L extends string>(name: string, unit: string, labelNames: readonly L[], collect?: (this: Gauge<L>) => void) =>
      new Gauge<L>({ name, help: `TorchServe metric ${name}, unit: ${unit}`, labelNames, registers, ...(collect === undefined ? {} : { collect }) });

    this.requests2xx = counter('Requests2XX', 'Count', host);
    this.requests4xx = counter('Requests4XX', 'Count', host);
    this.requests5xx = counter('Requests5XX', 'Count', host);
    const model = ['model_name', 'model_version', 'hostname'] as const;
    this.inferenceLatency = counter('ts_inference_latency_microseconds', 'Microseconds', model);
    this.queueLatency = counter('ts_queue_latency_microseconds', 'Microseconds', model);
    this.queueTime = gauge('QueueTime', 'Milliseconds', host);
    this.workerThreadTime = gauge('WorkerThreadTime', 'Milliseconds', host);
    // prom-client calls collect() with the gauge as `this`.
    const self = this;
    this.workerLoadTime = gauge('WorkerLoadTime', 'Milliseconds', ['WorkerName', 'Level', 'Hostname'] as const, function () {
      self.settleLoadTimes(this);
    });
    this.handlerTime = gauge('HandlerTime', 'ms', ['ModelName', 'Level', 'Hostname'] as const);
    this.predictionTime = gauge('PredictionTime', 'ms', ['ModelName', 'Level', 'Hostname'] as const);
    // TorchServe starts its counters at zero, so `rate()` works from the first scrape.
    for (const c of [this.requests2xx, this.requests4xx, this.requests5xx]) c.inc(this.hostLabels(), 0);
    if (options.systemMetrics) this.systemGauges(gauge);
  }

  /** Any answer on any of the APIs, as TorchServe counts them (by status class, per host). */
  httpResponse(status: number): void {
    const counter = status >= 500 ? this.requests5xx : status >= 400 ? this.requests4xx : status >= 200 && status < 300 ? this.requests2xx : undefined;
    counter?.inc(this.hostLabels());
  }

  /**
   * A request that reached a model was answered. TorchServe adds to its latency counters only when the
   * worker answered (not for a refusal), so their ratio to the request count is the mean latency.
   */
  requestFinished(e: { model: string; version: string; status: number; queueMs: number; inferenceMs: number; totalMs: number }): void {
    if (e.status >= 400 || e.inferenceMs <= 0) return;
    const labels = { model_name: e.model, model_version: e.version, hostname: this.hostname };
    this.inferenceLatency.inc(labels, e.totalMs * 1000);
    this.queueLatency.inc(labels, e.queueMs * 1000);
    this.queueTime.set(this.hostLabels(), e.queueMs);
    // TorchServe's worker-thread time is what a request spends outside the queue and the model.
    this.workerThreadTime.set(this.hostLabels(), Math.max(0, e.totalMs - e.queueMs - e.inferenceMs));
  }

  batchFinished(e: { model: string; inferenceMs: number }): void {
    const labels = { ModelName: e.model, Level: 'Model', Hostname: this.hostname };
    this.handlerTime.set(labels, e.inferenceMs);
    this.predictionTime.set(labels, e.inferenceMs);
  }

  /** A worker finished loading its model; its load time (since it was started) is set at the next scrape. */
  workerReady(model: string, version: string, workerId: string): void {
    this.loading.set(workerId, { model, version, readyAt: Date.now() });
  }

  workerGone(workerId: string): void {
    this.loading.delete(workerId);
    this.workerLoadTime.remove({ WorkerName: workerId, Level: 'Host', Hostname: this.hostname });
  }

  private settleLoadTimes(gauge: Gauge<'WorkerName' | 'Level' | 'Hostname'>): void {
    for (const [workerId, { model, version, readyAt }] of this.loading) {
      const startedAt = this.options.workerStartedAt?.(model, version, workerId);
      if (startedAt === undefined) continue;
      gauge.set({ WorkerName: workerId, Level: 'Host', Hostname: this.hostname }, Math.max(0, readyAt - startedAt));
      this.loading.delete(workerId);
    }
  }

  private hostLabels(): { Level: string; Hostname: string } {
    return { Level: 'Host', Hostname: this.hostname };
  }

  /** TorchServe's host gauges (its `metric_collector.py` reads them with psutil), read at each scrape. */
  private systemGauges(
    gauge: <L extends string>(name: string, unit: string, labelNames: readonly L[], collect?: (this: Gauge<L>) => void) => Gauge<L>,
  ): void {
    const host = ['Level', 'Hostname'] as const;
    const labels = () => this.hostLabels();
    const MiB = 1024 * 1024;
    const GiB = 1024 * MiB;
    const self = this;
    gauge('CPUUtilization', 'Percent', host, function () {
      // Busy share of every core since the previous scrape (since boot for the first).
      const now = cpuTotals();
      const busy = now.busy - self.cpuTimes.busy;
      const total = now.total - self.cpuTimes.total;
      self.cpuTimes = now;
      this.set(labels(), total > 0 ? round((busy / total) * 100) : 0);
    });
    gauge('MemoryUsed', 'Megabytes', host, function () {
      this.set(labels(), (os.totalmem() - os.freemem()) / MiB);
    });
    gauge('MemoryAvailable', 'Megabytes', host, function () {
      this.set(labels(), os.freemem() / MiB);
    });
    gauge('MemoryUtilization', 'Percent', host, function () {
      this.set(labels(), round(((os.totalmem() - os.freemem()) / os.totalmem()) * 100));
    });
    const disk = () => {
      const s = statfsSync('/');
      const used = (s.blocks - s.bfree) * s.bsize;
      const available = s.bavail * s.bsize;
      return { used, available, percent: used + available > 0 ? round((used / (used + available)) * 100) : 0 };
    };
    gauge('DiskUsage', 'Gigabytes', host, function () {
      this.set(labels(), disk().used / GiB);
    });
    gauge('DiskAvailable', 'Gigabytes', host, function () {
      this.set(labels(), disk().available / GiB);
    });
    gauge('DiskUtilization', 'Percent', host, function () {
      this.set(labels(), disk().percent);
    });
  }
}

function cpuTotals(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const { times } of os.cpus()) {
    const all = times.user + times.nice + times.sys + times.idle + times.irq;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
}

/** psutil reports percentages to one decimal. */
function round(percent: number): number {
  return Math.round(percent * 10) / 10;
}
