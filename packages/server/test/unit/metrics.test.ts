import { ServerEvents } from '../../src/events.js';
import { ServerMetrics } from '../../src/metrics/index.js';
import { metricValue as sample } from '../../../../test/support/model-server.js';

describe('ServerMetrics', () => {
  let events: ServerEvents;
  let metrics: ServerMetrics;

  beforeEach(() => {
    events = new ServerEvents();
    metrics = new ServerMetrics(events);
  });
  afterEach(() => metrics.close());

  it('counts requests by model, version and status, with real latency histograms in seconds', async () => {
    const base = { model: 'resnet', version: '1.0', api: 'predictions' as const };
    events.emit('request.finished', { ...base, status: 200, queueMs: 3, inferenceMs: 40, totalMs: 45 });
    events.emit('request.finished', { ...base, status: 200, queueMs: 1, inferenceMs: 20, totalMs: 22 });
    events.emit('request.finished', { ...base, status: 503, queueMs: 0, inferenceMs: 0, totalMs: 1 });
    const text = await metrics.render();
    const m = { model_name: 'resnet', model_version: '1.0' };
    expect(sample(text, 'ts_inference_requests_total', { ...m, status: '200' })).toBe(2);
    expect(sample(text, 'ts_inference_requests_total', { ...m, status: '503' })).toBe(1);
    expect(text).toContain('# TYPE ts_request_latency_seconds histogram');
    expect(sample(text, 'ts_request_latency_seconds_count', m)).toBe(3);
    expect(sample(text, 'ts_request_latency_seconds_bucket', { ...m, le: '0.025' })).toBe(2);
    // The refused request never queued nor ran: it is not in those histograms.
    expect(sample(text, 'ts_queue_latency_seconds_count', m)).toBe(2);
    expect(sample(text, 'ts_inference_latency_seconds_count', m)).toBe(2);
    expect(sample(text, 'ts_inference_latency_seconds_sum', m)).toBeCloseTo(0.06, 6);
  });

  it('tracks batch sizes, queue depth, live workers, restarts and worker memory', async () => {
    const m = { model: 'm', version: '2' };
    events.emit('model.registered', m);
    events.emit('batch.finished', { ...m, size: 4, inferenceMs: 10 });
    events.emit('queue.depth', { ...m, depth: 7 });
    events.emit('worker.started', { ...m, workerId: 'w1', pid: 11 });
    events.emit('worker.started', { ...m, workerId: 'w2', pid: 12 });
    events.emit('worker.memory', { ...m, workerId: 'w1', pid: 11, rssBytes: 1234 });
    events.emit('worker.exited', { ...m, workerId: 'w2', pid: 12, expected: false, reason: 'SIGKILL' });
    events.emit('worker.memory', { ...m, workerId: 'w2', pid: 12, rssBytes: 999 });
    const labels = { model_name: 'm', model_version: '2' };
    let text = await metrics.render();
    expect(sample(text, 'ts_batch_size_bucket', { ...labels, le: '4' })).toBe(1);
    expect(sample(text, 'ts_batch_size_bucket', { ...labels, le: '2' })).toBe(0);
    expect(sample(text, 'ts_queue_depth', labels)).toBe(7);
    expect(sample(text, 'ts_workers_alive', labels)).toBe(1);
    expect(sample(text, 'ts_worker_restarts_total', labels)).toBe(1);
    expect(sample(text, 'ts_worker_rss_bytes', { ...labels, worker_id: 'w1' })).toBe(1234);
    expect(sample(text, 'ts_worker_rss_bytes', { ...labels, worker_id: 'w2' })).toBeUndefined();
    expect(text).toContain('process_resident_memory_bytes');

    events.emit('model.unregistered', m);
    text = await metrics.render();
    expect(sample(text, 'ts_queue_depth', labels)).toBeUndefined();
    expect(sample(text, 'ts_workers_alive', labels)).toBeUndefined();
    expect(sample(text, 'ts_worker_rss_bytes', { ...labels, worker_id: 'w1' })).toBeUndefined();
  });

  it('counts requests retried after a lost worker, and retried ones lost again, by cause', async () => {
    const m = { model: 'm', version: '2' };
    for (const requestId of ['a', 'b', 'c']) events.emit('request.retried', { ...m, requestId, cause: 'died' });
    events.emit('request.retried', { ...m, requestId: 'd', cause: 'timeout' });
    events.emit('request.retryFailed', { ...m, requestId: 'a', cause: 'died' });
    const text = await metrics.render();
    const labels = { model_name: 'm', model_version: '2' };
    expect(sample(text, 'ts_request_retries_total', { ...labels, cause: 'died' })).toBe(3);
    expect(sample(text, 'ts_request_retries_total', { ...labels, cause: 'timeout' })).toBe(1);
    expect(sample(text, 'ts_request_retries_failed_total', { ...labels, cause: 'died' })).toBe(1);
    expect(sample(text, 'ts_request_retries_failed_total', { ...labels, cause: 'timeout' })).toBeUndefined();
  });

  it('exports handler metrics under a prefix with their labels and bounds what handlers can add', async () => {
    const bounded = new ServerMetrics(events, {
      processMetrics: false,
      customLimits: { maxMetrics: 2, maxSeriesPerMetric: 2, maxLabels: 2, maxLabelValueLength: 8 },
    });
    const base = { model: 'm', version: '1' };
    const emit = (name: string, value: number, labels: Record<string, string> = {}, kind: 'counter' | 'gauge' | 'histogram' = 'counter') =>
      events.emit('custom.metric', { ...base, kind, name, value, labels });
    emit('images_decoded', 2, { format: 'jpeg' });
    emit('images_decoded', 1, { format: 'jpeg' });
    emit('images_decoded', 1, { format: 'png' });
    emit('images_decoded', 1, { format: 'gif' }); // third series: over the bound
    emit('images_decoded', 1, { other: 'x' }); // a different label set than the first record
    emit('images_decoded', 1, { format: 'averyveryverylongvalue' }); // truncated into a new, fourth series
    emit('preprocess_ms', 12, {}, 'gauge');
    emit('preprocess_ms', 5, {}, 'histogram'); // the first record fixed its kind: a gauge
    emit('third_metric', 1); // over maxMetrics
    emit('bad-name', 1);
    emit('labels', 1, { model_name: 'spoof' });
    emit('queue_depth', 1, {}, 'gauge'); // would replace the server's own ts_queue_depth
    const text = await bounded.render();
    bounded.close();
    const l = { model_name: 'm', model_version: '1' };
    expect(sample(text, 'ts_images_decoded', { ...l, format: 'jpeg' })).toBe(3);
    expect(sample(text, 'ts_images_decoded', { ...l, format: 'png' })).toBe(1);
    expect(sample(text, 'ts_images_decoded', { ...l, format: 'gif' })).toBeUndefined();
    expect(sample(text, 'ts_preprocess_ms', l)).toBe(12);
    expect(text).not.toContain('ts_preprocess_ms_bucket');
    expect(text).not.toContain('ts_third_metric');
    expect(sample(text, 'ts_custom_metrics_dropped_total', { reason: 'too_many_series' })).toBe(2);
    expect(sample(text, 'ts_custom_metrics_dropped_total', { reason: 'label_mismatch' })).toBe(1);
    expect(sample(text, 'ts_custom_metrics_dropped_total', { reason: 'kind_mismatch' })).toBe(1);
    expect(sample(text, 'ts_custom_metrics_dropped_total', { reason: 'too_many_metrics' })).toBe(1);
    expect(sample(text, 'ts_custom_metrics_dropped_total', { reason: 'invalid_name' })).toBe(1);
    expect(sample(text, 'ts_custom_metrics_dropped_total', { reason: 'invalid_label' })).toBe(1);
    expect(sample(text, 'ts_custom_metrics_dropped_total', { reason: 'reserved_name' })).toBe(1);
    expect(text).not.toContain('process_resident_memory_bytes');
  });

  it('keeps separate registries per server and stops counting once closed', async () => {
    const otherEvents = new ServerEvents();
    const other = new ServerMetrics(otherEvents, { processMetrics: false });
    const done = { model: 'a', version: '1', api: 'v2' as const, status: 200, queueMs: 1, inferenceMs: 1, totalMs: 2 };
    otherEvents.emit('request.finished', done);
    other.close();
    otherEvents.emit('request.finished', done);
    const labels = { model_name: 'a', model_version: '1', status: '200' };
    expect(sample(await other.render(), 'ts_inference_requests_total', labels)).toBe(1);
    expect(sample(await metrics.render(), 'ts_inference_requests_total', labels)).toBeUndefined();
  });
});
