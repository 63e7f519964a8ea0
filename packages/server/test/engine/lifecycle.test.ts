import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createArchive } from '@nodeserve/archiver';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NodeserveError } from '@nodeserve/errors';
import { ModelConflict, ModelNotFound, ServerDraining } from '../../src/errors.js';
import type { InferenceOutcome, ModelVersionHandle } from '../../src/models/index.js';
import { type Engine, json, request, startEngine } from './harness.js';

/** Keeps `concurrency` requests in flight until `total` have been sent; resolves with every outcome. */
async function load(model: ModelVersionHandle, total: number, concurrency: number, query: Record<string, string>): Promise<PromiseSettledResult<InferenceOutcome>[]> {
  const results: PromiseSettledResult<InferenceOutcome>[] = [];
  let sent = 0;
  async function client(): Promise<void> {
    while (sent < total) {
      sent++;
      try {
        results.push({ status: 'fulfilled', value: await model.submit(request('x', { query })) });
      } catch (reason) {
        results.push({ status: 'rejected', reason });
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, client));
  return results;
}

describe('model registry and lifecycle', () => {
  let engine: Engine;

  beforeAll(async () => {
    engine = await startEngine({}, 8);
  });

  afterAll(async () => {
    await engine.close();
  });

  it('refuses a second registration of the same name and version with 409, and accepts a name override', async () => {
    const archive = await engine.archive('echo.mjs', { name: 'twice' });
    await engine.registry.register({ archive, initialWorkers: 1, synchronous: true });
    const conflict = await engine.registry.register({ archive, synchronous: true }).catch((e: NodeserveError) => e);
    expect(conflict).toBeInstanceOf(ModelConflict);
    expect((conflict as NodeserveError).status).toBe(409);
    const renamed = await engine.registry.register({ archive, modelName: 'twice-renamed', initialWorkers: 1, synchronous: true });
    expect(json(await renamed.submit(request('x')))['modelName']).toBe('twice-renamed');
    await expect(engine.registry.register({ archive, modelName: '../evil', synchronous: true })).rejects.toMatchObject({ status: 400 });
  });

  it('serves a .mar the archiver built from a TypeScript handler that imports the SDK', async () => {
    const { path } = await createArchive({
      modelName: 'from-mar',
      version: '2.1',
      handler: join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'sdk-handler.ts:handle'),
      exportPath: engine.root,
    });
    const model = await engine.registry.register({ archive: path, initialWorkers: 1, synchronous: true });
    expect(model.modelDir.startsWith(join(engine.root, 'extracted'))).toBe(true);
    expect(json(await model.submit(request('abc')))).toEqual({ greeting: 'hello from from-mar 2.1', bytes: 3 });
    await expect(model.submit(request(''))).rejects.toMatchObject({ code: 'InvalidInput', status: 400, message: 'the body is empty' });
    await engine.registry.unregister('from-mar');
  });

  it('serves several versions at once and routes to the default version', async () => {
    const v1 = await engine.archive('echo.mjs', { name: 'versioned', version: '1.0' });
    const v2 = await engine.archive('slow.mjs', { name: 'versioned', version: '2.0' });
    await engine.registry.register({ archive: v1, initialWorkers: 1, synchronous: true });
    await engine.registry.register({ archive: v2, initialWorkers: 1, synchronous: true });
    expect(engine.registry.resolve('versioned').version).toBe('1.0');
    expect(engine.registry.resolve('versioned', '2.0').version).toBe('2.0');
    engine.registry.setDefault('versioned', '2.0');
    const answer = json(await engine.registry.resolve('versioned').submit(request('x', { query: { ms: '1' } })));
    expect(answer['batchSize']).toBe(1);
    expect(answer['body']).toBeUndefined();
    const listed = engine.registry.list().find((m) => m.name === 'versioned');
    expect(listed?.defaultVersion).toBe('2.0');
    expect(listed?.versions.map((v) => v.version).sort()).toEqual(['1.0', '2.0']);
    expect(() => engine.registry.setDefault('versioned', '3.0')).toThrow(ModelNotFound);
    await engine.registry.unregister('versioned', '2.0');
    expect(engine.registry.resolve('versioned').version).toBe('1.0');
  });

  it('gives each worker cores ÷ workers ONNX Runtime threads and GPUs round-robin', async () => {
    const gpus = await startEngine({ numberOfGpu: 2 }, 8);
    try {
      const archive = await gpus.archive('echo.mjs', { name: 'devices' });
      const model = await gpus.registry.register({ archive, initialWorkers: 2, synchronous: true });
      expect(model.config.intraOpNumThreads).toBe(4);
      expect(model.workers().map((w) => w.gpuId).sort()).toEqual([0, 1]);
      const answers = await Promise.all(Array.from({ length: 6 }, () => model.submit(request('x'))));
      expect(new Set(answers.map((a) => json(a)['threads']))).toEqual(new Set([4]));
      // libuv's pool in each worker is its share of the cores, unless the server's environment sets one.
      expect(new Set(answers.map((a) => json(a)['uvThreadpoolSize']))).toEqual(new Set([process.env['UV_THREADPOOL_SIZE'] ?? '4']));
    } finally {
      await gpus.close();
    }
  });

  it('starts one single-threaded worker per core when no worker count is configured, as many as fit in half the memory', async () => {
    const cores = await startEngine({ workers: undefined }, 3);
    try {
      const archive = await cores.archive('echo.mjs', { name: 'percore' });
      const model = await cores.registry.register({ archive, synchronous: true });
      expect(model.config.minWorkers).toBe(3);
      expect(model.config.intraOpNumThreads).toBe(1);
      expect(model.workers()).toHaveLength(3);
      expect(json(await model.submit(request('x')))['uvThreadpoolSize']).toBe(process.env['UV_THREADPOOL_SIZE'] ?? '1');
    } finally {
      await cores.close();
    }
    // 1 GiB: half of it holds two workers of 192 MiB + 4 × a tiny archive, not eight.
    const small = await startEngine({ workers: undefined }, 8, { memoryBytes: 2 ** 30 });
    try {
      const archive = await small.archive('echo.mjs', { name: 'fitted' });
      const model = await small.registry.register({ archive, synchronous: true });
      expect(model.config.minWorkers).toBe(2);
      expect(model.config.intraOpNumThreads).toBe(4);
    } finally {
      await small.close();
    }
  });

  it('scales workers up and down under load without failing a request', async () => {
    const archive = await engine.archive('slow.mjs', { name: 'scaled' });
    const model = await engine.registry.register({ archive, initialWorkers: 1, synchronous: true });
    const running = load(model, 120, 12, { ms: '20' });
    await model.scale(3, 3, true);
    expect(model.workers().filter((w) => w.state === 'ready' || w.state === 'busy')).toHaveLength(3);
    expect(model.isReady()).toBe(true);
    await model.scale(1, 1, true);
    const results = await running;
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(results).toHaveLength(120);
    expect(new Set(results.map((r) => json((r as PromiseFulfilledResult<InferenceOutcome>).value)['pid'])).size).toBeGreaterThanOrEqual(2);
    expect(model.workers()).toHaveLength(1);
  });

  it('shrinks by the idle workers first: a busy worker keeps its request when others can go', async () => {
    const archive = await engine.archive('slow.mjs', { name: 'shrunk' });
    const model = await engine.registry.register({ archive, initialWorkers: 1, synchronous: true });
    await model.scale(2, 2, true);
    // The first worker has been idle longest, so it takes the first request and the newer (higher) one the second.
    const short = model.submit(request('x', { query: { ms: '50' } }));
    const long = model.submit(request('x', { query: { ms: '1500' } }));
    const shortPid = json(await short)['pid'];
    const busy = model.workers().find((w) => w.state === 'busy');
    expect(busy?.id).toMatch(/-w2$/);
    expect(busy?.pid).not.toBe(shortPid);
    await model.scale(1, 1, true);
    expect(model.workers().map((w) => w.pid)).toEqual([busy?.pid]);
    expect(json(await long)['pid']).toBe(busy?.pid);
  });

  it('has metadata once a worker has loaded, without describe() too, and keeps it when scaled to zero', async () => {
    const plain = await engine.register('slow.mjs', { name: 'undescribed' });
    expect(plain.metadata).toEqual({ inputs: [], outputs: [] });
    const described = await engine.register('echo.mjs', { name: 'described' });
    const metadata = described.metadata;
    expect(metadata?.inputs[0]?.name).toBe('body');
    await plain.scale(0, 0, true);
    await described.scale(0, 0, true);
    expect(plain.workers()).toEqual([]);
    expect(plain.metadata).toEqual({ inputs: [], outputs: [] });
    expect(described.metadata).toEqual(metadata);
  });

  it('drains on unregister: queued and running requests are answered, new ones are refused', async () => {
    const archive = await engine.archive('slow.mjs', { name: 'drained' });
    const model = await engine.registry.register({ archive, initialWorkers: 1, synchronous: true });
    const inFlight = Array.from({ length: 5 }, () => model.submit(request('x', { query: { ms: '100' } })));
    const unregistered = engine.registry.unregister('drained');
    expect(() => engine.registry.resolve('drained')).toThrow(ModelNotFound);
    await expect(model.submit(request('late'))).rejects.toBeInstanceOf(ServerDraining);
    const answers = await Promise.all(inFlight);
    expect(answers.map((a) => json(a)['batchSize'])).toEqual([1, 1, 1, 1, 1]);
    await unregistered;
    expect(model.workers()).toEqual([]);
  });

  it('answers every in-flight request on shutdown, then refuses new registrations', async () => {
    const own = await startEngine();
    const archive = await own.archive('slow.mjs', { name: 'stopping' });
    const model = await own.registry.register({ archive, initialWorkers: 2, synchronous: true });
    expect(own.registry.isHealthy()).toBe(true);
    const inFlight = Promise.allSettled(Array.from({ length: 6 }, () => model.submit(request('x', { query: { ms: '100' } }))));
    await own.close();
    const settled = await inFlight;
    expect(settled.every((s) => s.status === 'fulfilled')).toBe(true);
    await expect(own.registry.register({ archive })).rejects.toBeInstanceOf(ServerDraining);
  });
});
