import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { env, type InferenceSession } from 'onnxruntime-node';
import type { Logger } from '../types.js';

/** The sha256 of a file, streamed: model files run to hundreds of megabytes. */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Where the optimised graph of a model is cached inside the server's per-model `cacheDir` (never in
 * the archive, which the server verifies against its manifest and may hold read-only). The key is
 * everything the saved graph depends on: the model's bytes, the ONNX Runtime version that optimised
 * it, and the provider and level, since the graph holds provider- and level-specific rewrites.
 */
export function optimizedModelPath(cacheDir: string, modelSha256: string, provider: string, level: string): string {
  return join(cacheDir, `${modelSha256}.ort-${env.versions.common}.${provider}.${level}.optimized.onnx`);
}

/**
 * Creates a session that also writes its optimised graph to `cachePath`. ORT writes the file while
 * the session is created; writing under a per-process name and renaming keeps workers that start
 * together from reading each other's half-written file, so a graph at `cachePath` is always whole.
 */
export async function createAndCache(
  create: (path: string, options: InferenceSession.SessionOptions) => Promise<InferenceSession>,
  modelPath: string,
  cachePath: string,
  options: InferenceSession.SessionOptions,
  logger: Logger,
): Promise<InferenceSession> {
  const partial = `${cachePath}.${process.pid}.partial`;
  try {
    mkdirSync(dirname(cachePath), { recursive: true, mode: 0o700 });
  } catch (error) {
    logger.warn('could not create the model cache directory; not caching the optimised graph', { path: cachePath, error: String(error) });
    return create(modelPath, options);
  }
  let session: InferenceSession;
  try {
    session = await create(modelPath, { ...options, optimizedModelFilePath: partial });
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  }
  try {
    renameSync(partial, cachePath);
    logger.info('cached the optimised model graph', { path: cachePath });
  } catch (error) {
    rmSync(partial, { force: true });
    logger.warn('could not cache the optimised model graph', { path: cachePath, error: String(error) });
  }
  return session;
}
