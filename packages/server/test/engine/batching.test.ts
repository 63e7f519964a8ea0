import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import type { NodeserveError } from '@nodeserve/errors';
import { QueueFull } from '../../src/errors.js';
import { type Engine, json, request, startEngine } from './harness.js';

describe('dynamic batching and the bounded queue', () => {
  let engine: Engine;

  beforeAll(async () => {
    engine = await startEngine();
  });

  afterAll(async () => {
    await engine.close();
  });

  it('fills batches up to batch_size and hands the handler the whole batch', async () => {
    const archive = await engine.archive('echo.mjs', { name: 'batched', config: { batchSize: 4, maxBatchDelay: 1000 } });
    const model = await engine.registry.register({ archive, initialWorkers: 1, synchronous: true });
    const sizes: number[] = [];
    engine.events.on('batch.finished', (e) => {
      if (e.model === 'batched') sizes.push(e.size);
    });
    const outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => model.submit(request(`item ${i}`))));
    const bodies = outcomes.map((o) => json<{ batchSize: number; body: string }>(o));
    expect(bodies.map((b) => b.batchSize)).toEqual([4, 4, 4, 4, 4, 4, 4, 4]);
    expect(bodies.map((b) => b.body)).toEqual(Array.from({ length: 8 }, (_, i) => `item ${i}`));
    expect(sizes).toEqual([4, 4]);
  });

  it('sends a partial batch once max_batch_delay has passed', async () => {
    const archive = await engine.archive('echo.mjs', { name: 'partial', config: { batchSize: 8, maxBatchDelay: 50 } });
    const model = await engine.registry.register({ archive, initialWorkers: 1, synchronous: true });
    const outcomes = await Promise.all([model.submit(request('a')), model.submit(request('b'))]);
    expect(outcomes.map((o) => json(o)['batchSize'])).toEqual([2, 2]);
  });

  it('answers QueueFull (503) at once when the queue is full, and every accepted request completes', async () => {
    const archive = await engine.archive('slow.mjs', { name: 'small-queue' });
    const busy = await startEngine({ jobQueueSize: 10 });
    try {
      const model = await busy.registry.register({ archive, initialWorkers: 1, synchronous: true });
      const order: string[] = [];
      const settled = await Promise.allSettled(
        Array.from({ length: 100 }, (_, i) =>
          model.submit(request(`r${i}`, { query: { ms: '100' } })).then(
            (o) => { order.push('ok'); return o; },
            (e: unknown) => { order.push('refused'); throw e; },
          )),
      );
      const refused = settled.filter((s) => s.status === 'rejected');
      const served = settled.filter((s) => s.status === 'fulfilled');
      // One request went straight to the idle worker, ten waited in the queue.
      expect(served).toHaveLength(11);
      expect(refused).toHaveLength(89);
      for (const r of refused) {
        const error = (r as PromiseRejectedResult).reason as NodeserveError;
        expect(error).toBeInstanceOf(QueueFull);
        expect(error.status).toBe(503);
        expect(error.retryAfter).toBeGreaterThan(0);
      }
      // Refusals came before any request was served: nobody waited to be refused.
      expect(order.slice(0, 89).every((o) => o === 'refused')).toBe(true);
      expect(model.queueLength()).toBe(0);
    } finally {
      await busy.close();
    }
  });

  it('fails only the request the handler returned an error for, with its code and status', async () => {
    const archive = await engine.archive('echo.mjs', { name: 'per-request', config: { batchSize: 3, maxBatchDelay: 1000 } });
    const model = await engine.registry.register({ archive, initialWorkers: 1, synchronous: true });
    const settled = await Promise.allSettled([
      model.submit(request('fine')),
      model.submit(request('bad', { query: { fail: '1' } })),
      model.submit(request('also fine')),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const error = (settled[1] as PromiseRejectedResult).reason as NodeserveError;
    expect(error.code).toBe('InvalidInput');
    expect(error.status).toBe(400);
    expect(error.message).toMatch(/^refused req-/);
  });

  it('carries bodies, form fields, JSON and tensors to the handler and results back unchanged', async () => {
    const archive = await engine.archive('echo.mjs', { name: 'wire' });
    const model = await engine.registry.register({ archive, initialWorkers: 1, synchronous: true });

    const image = randomBytes(100 * 1024);
    const bytes = await model.submit(request(image, { query: { as: 'bytes' } }));
    expect(bytes.kind).toBe('bytes');
    expect(bytes.kind === 'bytes' && Buffer.compare(bytes.body, image)).toBe(0);

    const form = await model.submit(request(image, {
      form: { data: image, label: 'cat' }, headers: { 'x-trace': 't1' }, query: { top: '5' }, contentType: 'multipart/form-data',
    }));
    expect(json(form)).toMatchObject({
      bodyBytes: image.byteLength, sameData: true, form: { data: `bytes:${image.byteLength}`, label: 'cat' },
      headers: { 'x-trace': 't1' }, query: { top: '5' },
    });
    expect(json(form)['json']).toBeUndefined();

    const png = await model.submit(request(image, { query: { as: 'png' } }));
    expect(png).toMatchObject({ kind: 'bytes', contentType: 'image/png' });
    expect(png.kind === 'bytes' && Buffer.compare(png.body, image)).toBe(0);

    const floats = Float32Array.from({ length: 1000 }, (_, i) => i / 7);
    const words = [Buffer.from('hello'), Buffer.from('world')];
    const tensors = await model.submit(request('', {
      tensors: [
        { name: 'x', datatype: 'FP32', shape: [10, 100], data: floats },
        { name: 'w', datatype: 'BYTES', shape: [2], data: words },
        { name: 'm', datatype: 'BOOL', shape: [3], data: [true, false, true] },
        { name: 'i', datatype: 'INT64', shape: [2], data: BigInt64Array.from([1n, -2n]) },
      ],
    }));
    expect(tensors.kind).toBe('tensors');
    if (tensors.kind !== 'tensors') return;
    const [x, w, m, i] = tensors.outputs;
    expect(x?.data).toBeInstanceOf(Float32Array);
    expect(Array.from(x!.data as Float32Array)).toEqual(Array.from(floats));
    expect(x?.shape).toEqual([10, 100]);
    expect((w?.data as Uint8Array[]).map((b) => Buffer.from(b).toString())).toEqual(['hello', 'world']);
    expect(m?.data).toEqual([true, false, true]);
    expect(Array.from(i!.data as BigInt64Array)).toEqual([1n, -2n]);
    expect(tensors.parameters).toEqual({ echoed: true });
  });

  it('parses JSON bodies in the worker and refuses one that is not JSON with 400 before the handler, failing only it', async () => {
    const archive = await engine.archive('echo.mjs', { name: 'json-bodies', config: { batchSize: 3, maxBatchDelay: 300 } });
    const model = await engine.registry.register({ archive, initialWorkers: 1, synchronous: true });
    const [good, bad, vendor] = await Promise.allSettled([
      model.submit(request('{"threshold": 0.5, "labels": ["cat"]}', { contentType: 'application/json; charset=utf-8' })),
      model.submit(request('{"threshold": ', { contentType: 'application/json' })),
      model.submit(request('[1, null]', { contentType: 'application/vnd.example+json' })),
    ]);
    expect(good.status === 'fulfilled' && json(good.value)).toMatchObject({ json: { threshold: 0.5, labels: ['cat'] }, batchSize: 2 });
    expect(vendor.status === 'fulfilled' && json(vendor.value)).toMatchObject({ json: [1, null], batchSize: 2 });
    expect(bad.status).toBe('rejected');
    expect(bad.status === 'rejected' && bad.reason).toMatchObject({ code: 'InvalidInput', status: 400 });
    expect(bad.status === 'rejected' && (bad.reason as Error).message).toMatch(/^Request body is not valid JSON: /);

    // Text that merely looks like JSON is the handler's to read; v2 requests arrive as tensors and are not parsed again.
    expect(json(await model.submit(request('{not json', { contentType: 'text/plain' })))['json']).toBeUndefined();
    const v2 = await model.submit({ ...request('{not json', { contentType: 'application/json' }), api: 'v2' });
    expect(json(v2)['json']).toBeUndefined();
  });

  it('reports queue and inference timings, the model description, custom metrics and worker memory', async () => {
    const archive = await engine.archive('echo.mjs', { name: 'observed' });
    const metrics: string[] = [];
    engine.events.on('custom.metric', (e) => {
      if (e.model === 'observed') metrics.push(`${e.kind}:${e.name}:${e.value}`);
    });
    const model = await engine.registry.register({ archive, initialWorkers: 1, synchronous: true });
    const outcome = await model.submit(request('x'));
    expect(outcome.queueMs).toBeGreaterThanOrEqual(0);
    expect(outcome.inferenceMs).toBeGreaterThanOrEqual(0);
    expect(model.metadata?.outputs[0]?.name).toBe('echo');
    expect(metrics).toContain('counter:echo_requests:1');
    expect(model.workers()[0]?.rssBytes).toBeGreaterThan(0);
  });
});
