import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterEach, describe, expect, it } from '@jest/globals';
import { env } from 'onnxruntime-node';
import { createSession, GpuUnavailable, ModelFailed, resolveModelFile } from '@nodeserve/handler-sdk';
import { optimizedModelPath } from '../src/onnx/optimized-model-cache.js';
import { MOBILENET, modelFixture, type RecordingContext } from '../../../test/support/handler-context.js';
import { basename, join } from 'node:path';

// This machine has no GPU, no CUDA provider files and no Vulkan driver: every GPU provider fails.
describe('createSession', () => {
  let fixture: RecordingContext | undefined;
  afterEach(() => fixture?.cleanup());

  it('runs on CPU when no GPU is assigned, and logs the provider', async () => {
    fixture = modelFixture();
    const { session, provider } = await createSession(resolveModelFile(fixture.context), fixture.context);
    expect(provider).toBe('cpu');
    expect(session.inputNames).toEqual(['input']);
    expect(fixture.logs).toContainEqual(expect.objectContaining({ level: 'info', msg: 'ONNX Runtime session runs on cpu' }));
  });

  it('refuses a GPU request it cannot honour with GpuUnavailable, naming the providers tried and how to install CUDA', async () => {
    fixture = modelFixture({ gpuId: 0, config: { deviceType: 'gpu' } });
    const error = await createSession(resolveModelFile(fixture.context), fixture.context).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GpuUnavailable);
    const gpu = error as GpuUnavailable;
    expect(gpu.code).toBe('GpuUnavailable');
    expect(gpu.status).toBe(500);
    expect(gpu.tried.map((t) => t.provider)).toEqual(['cuda', 'webgpu']);
    expect(gpu.message).toMatch(/GPU 0 was requested/);
    expect(gpu.message).toMatch(/Tried: cuda \(.+\); webgpu \(.+\)/);
    expect(gpu.message).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node --foreground-scripts');
    expect(gpu.message).toMatch(/Vulkan/);
    expect(gpu.message).toMatch(/allowCpuFallback/);
  });

  it('tries only the configured GPU providers, in order', async () => {
    fixture = modelFixture({ gpuId: 1, config: { gpuExecutionProviders: ['webgpu'] } });
    const error = (await createSession(resolveModelFile(fixture.context), fixture.context).catch((e: unknown) => e)) as GpuUnavailable;
    expect(error.tried.map((t) => t.provider)).toEqual(['webgpu']);
    expect(error.message).toMatch(/GPU 1 was requested/);
  });

  it('falls back to CPU when the config allows it, and says so in the log', async () => {
    fixture = modelFixture({ gpuId: 0, config: { deviceType: 'gpu', allowCpuFallback: true } });
    const { provider } = await createSession(resolveModelFile(fixture.context), fixture.context);
    expect(provider).toBe('cpu');
    const warning = fixture.logs.find((l) => l.level === 'warn' && l.msg.startsWith('falling back to CPU'));
    expect(warning?.msg).toMatch(/cuda .*webgpu/);
    expect(fixture.logs.at(-1)).toMatchObject({ level: 'info', msg: 'ONNX Runtime session runs on cpu' });
  });

  it('stays on CPU when the config pins deviceType cpu, even with a GPU assigned', async () => {
    fixture = modelFixture({ gpuId: 0, config: { deviceType: 'cpu' } });
    expect((await createSession(resolveModelFile(fixture.context), fixture.context)).provider).toBe('cpu');
    expect(fixture.logs.some((l) => l.level === 'warn')).toBe(false);
  });

  it('caches the optimised graph only in the server\'s cacheDir, keyed by model sha256, ORT version, provider and level, and reuses it', async () => {
    const cacheDir = join(mkdtempSync(join(tmpdir(), 'handler-sdk-cache-')), 'mobilenet', '1.0');
    try {
      fixture = modelFixture({ cacheDir, config: { cacheOptimizedModel: true, graphOptimizationLevel: 'extended', intraOpNumThreads: 1 } });
      const archive = readdirSync(fixture.modelDir).sort();
      const model = resolveModelFile(fixture.context);
      const sha256 = createHash('sha256').update(readFileSync(model)).digest('hex');
      const cache = optimizedModelPath(cacheDir, sha256, 'cpu', 'extended');
      expect(cache).toBe(join(cacheDir, `${sha256}.ort-${env.versions.common}.cpu.extended.optimized.onnx`));

      await createSession(model, fixture.context);
      expect(readdirSync(fixture.modelDir).sort()).toEqual(archive);
      expect(readdirSync(cacheDir)).toEqual([basename(cache)]);
      expect(statSync(cacheDir).mode & 0o777).toBe(0o700);
      expect(fixture.logs).toContainEqual(expect.objectContaining({ msg: 'cached the optimised model graph', fields: { path: cache } }));

      // A later worker (or the next server start) builds a new context over the same directories.
      fixture.logs.length = 0;
      const again = await createSession(model, fixture.context);
      expect(again.session.outputNames).toEqual(['output']);
      expect(fixture.logs).toContainEqual(expect.objectContaining({ msg: 'loaded the cached optimised model graph', fields: { path: cache } }));
      expect(fixture.logs.some((l) => l.msg === 'cached the optimised model graph')).toBe(false);
      expect(readdirSync(fixture.modelDir).sort()).toEqual(archive);
    } finally {
      rmSync(join(cacheDir, '../..'), { recursive: true, force: true });
    }
  });

  it('keys the cache by the sha256 the manifest lists for the model, which the server verified, without hashing it again', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'handler-sdk-cache-'));
    try {
      const listed = 'ab'.repeat(32);
      fixture = modelFixture({ cacheDir, files: { [MOBILENET]: { size: 1, sha256: listed } }, config: { cacheOptimizedModel: true } });
      await createSession(resolveModelFile(fixture.context), fixture.context);
      expect(readdirSync(cacheDir)).toEqual([basename(optimizedModelPath(cacheDir, listed, 'cpu', 'all'))]);
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  it('replaces a cached graph that does not load by optimising the model again', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'handler-sdk-cache-'));
    try {
      fixture = modelFixture({ cacheDir, config: { cacheOptimizedModel: true } });
      const model = resolveModelFile(fixture.context);
      const sha256 = createHash('sha256').update(readFileSync(model)).digest('hex');
      const cache = optimizedModelPath(cacheDir, sha256, 'cpu', 'all');
      writeFileSync(cache, 'not an onnx graph');
      const { session } = await createSession(model, fixture.context);
      expect(session.inputNames).toEqual(['input']);
      expect(fixture.logs.map((l) => l.msg)).toEqual(expect.arrayContaining([
        'the cached optimised model graph did not load; optimising the model again', 'cached the optimised model graph',
      ]));
      expect(statSync(cache).size).toBeGreaterThan(1000);
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  it('caches nothing without a cacheDir, even when the config asks for it', async () => {
    fixture = modelFixture({ config: { cacheOptimizedModel: true } });
    const archive = readdirSync(fixture.modelDir).sort();
    await createSession(resolveModelFile(fixture.context), fixture.context);
    expect(readdirSync(fixture.modelDir).sort()).toEqual(archive);
    expect(fixture.logs.some((l) => /cached/.test(l.msg))).toBe(false);
  });

  it('finds the only .onnx file when the manifest names none, and refuses a missing model with ModelFailed', async () => {
    fixture = modelFixture({ serializedFile: null });
    expect(resolveModelFile(fixture.context)).toBe(join(fixture.modelDir, MOBILENET));
    fixture.cleanup();
    fixture = modelFixture({ serializedFile: 'absent.onnx' });
    await expect(createSession(resolveModelFile(fixture.context), fixture.context)).rejects.toBeInstanceOf(ModelFailed);
  });
});
