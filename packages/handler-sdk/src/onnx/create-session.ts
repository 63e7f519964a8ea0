import { existsSync } from 'node:fs';
import { isAbsolute, relative, sep } from 'node:path';
import { InferenceSession } from 'onnxruntime-node';
import { GpuUnavailable, ModelFailed } from '../errors.js';
import type { Context } from '../types.js';
import { createAndCache, fileSha256, optimizedModelPath } from './optimized-model-cache.js';
import { quietOrtLogging, sessionOptions } from './session-options.js';

export type ExecutionProvider = 'cuda' | 'webgpu' | 'cpu';

export interface LoadedSession {
  session: InferenceSession;
  /** The execution provider the session runs on. */
  provider: ExecutionProvider;
}

function providerOption(provider: ExecutionProvider, gpuId: number): InferenceSession.ExecutionProviderConfig {
  // WebGPU picks its adapter itself; only CUDA takes a device id.
  return provider === 'cuda' ? { name: 'cuda', deviceId: gpuId } : provider;
}

/** The model file and its sha256, found at most once however many providers are tried. */
interface ModelFile {
  path: string;
  sha256(): Promise<string>;
}

/**
 * The digest the archive's manifest lists for `path`, when the file is part of the archive: the
 * server's reader checked every file against it, and reading it here spares hashing the model again.
 */
function listedSha256(path: string, context: Context): string | undefined {
  const inside = relative(context.systemProperties.modelDir, path);
  if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) return undefined;
  return context.manifest.files[inside.split(sep).join('/')]?.sha256;
}

function modelFile(path: string, context: Context): ModelFile {
  let digest: Promise<string> | undefined;
  return { path, sha256: () => (digest ??= Promise.resolve(listedSha256(path, context) ?? fileSha256(path))) };
}

async function createOn(model: ModelFile, provider: ExecutionProvider, gpuId: number, context: Context): Promise<InferenceSession> {
  const modelPath = model.path;
  const options = { ...sessionOptions(context.config), executionProviders: [providerOption(provider, gpuId)] };
  const { cacheDir } = context.systemProperties;
  if (context.config.cacheOptimizedModel !== true || cacheDir === undefined) return InferenceSession.create(modelPath, options);
  const cachePath = optimizedModelPath(cacheDir, await model.sha256(), provider, options.graphOptimizationLevel ?? 'all');
  if (existsSync(cachePath)) {
    try {
      const session = await InferenceSession.create(cachePath, { ...options, graphOptimizationLevel: 'disabled' });
      context.logger.info('loaded the cached optimised model graph', { path: cachePath });
      return session;
    } catch (error) {
      // Optimising the model again rewrites the cache in place.
      context.logger.warn('the cached optimised model graph did not load; optimising the model again', { path: cachePath, reason: reasonOf(error) });
    }
  }
  return createAndCache((path, o) => InferenceSession.create(path, o), modelPath, cachePath, options, context.logger);
}

function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const last = message.split('\n').map((l) => l.trim()).filter(Boolean).pop() ?? 'unknown error';
  // ORT's native errors start with a source location and a failed condition; the sentence after it says what went wrong.
  const located = /^(?:Error:\s*)?\/\S+:\d+ .*? was false\.\s*(.+)$/.exec(last);
  return (located?.[1] ?? last.replace(/^Error:\s*/, '')).slice(0, 300);
}

/** A GPU is wanted when the config says so, or when the server assigned one and the config does not pin the CPU. */
function wantedGpu(context: Context): number | null {
  const { gpuId } = context.systemProperties;
  if (context.config.deviceType === 'cpu') return null;
  if (context.config.deviceType === 'gpu') return gpuId ?? context.config.deviceIds?.[0] ?? 0;
  return gpuId;
}

/**
 * Opens an ONNX Runtime session for `modelPath`, choosing the execution provider from the context:
 * on a GPU each of `gpuExecutionProviders` (default CUDA, then WebGPU) is tried by creating a session
 * with it alone, because a provider whose libraries or driver are missing fails only then; the CPU
 * is used when no GPU is wanted, or when none worked and the config allows the fallback.
 */
export async function createSession(modelPath: string, context: Context): Promise<LoadedSession> {
  const { logger } = context;
  quietOrtLogging();
  const model = modelFile(modelPath, context);
  const gpuId = wantedGpu(context);
  if (gpuId !== null) {
    const tried: Array<{ provider: string; reason: string }> = [];
    for (const provider of context.config.gpuExecutionProviders ?? ['cuda', 'webgpu']) {
      try {
        const session = await createOn(model, provider, gpuId, context);
        logger.info(`ONNX Runtime session runs on ${provider}`, { provider, gpuId, model: modelPath });
        return { session, provider };
      } catch (error) {
        const reason = reasonOf(error);
        tried.push({ provider, reason });
        logger.warn(`execution provider ${provider} unavailable`, { provider, gpuId, reason });
      }
    }
    const unavailable = new GpuUnavailable(gpuId, tried);
    if (context.config.allowCpuFallback !== true) throw unavailable;
    logger.warn(`falling back to CPU: ${unavailable.message}`, { provider: 'cpu', gpuId, tried });
  }
  try {
    const session = await createOn(model, 'cpu', 0, context);
    const { intraOpNumThreads, interOpNumThreads } = sessionOptions(context.config);
    logger.info('ONNX Runtime session runs on cpu', { provider: 'cpu', model: modelPath, intraOpNumThreads: intraOpNumThreads ?? null, interOpNumThreads: interOpNumThreads ?? null });
    return { session, provider: 'cpu' };
  } catch (error) {
    throw new ModelFailed(`could not load the ONNX model ${modelPath}: ${reasonOf(error)}`, { cause: error });
  }
}
