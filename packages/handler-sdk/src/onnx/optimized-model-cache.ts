import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import type { Logger } from '../types.js';

/**
 * Where the optimised graph of `modelPath` is cached. The name carries the provider and optimisation
 * level because ORT's saved graph holds provider- and level-specific rewrites.
 */
export function optimizedModelPath(modelPath: string, provider: string, level: string): string {
  return join(dirname(modelPath), `.${basename(modelPath)}.${provider}.${level}.optimized.onnx`);
}

/** A cached graph is used only while it is newer than the model it came from. */
export function freshCache(modelPath: string, cachePath: string): boolean {
  return existsSync(cachePath) && statSync(cachePath).mtimeMs >= statSync(modelPath).mtimeMs;
}

/**
 * Creates a session that also writes its optimised graph to `cachePath`. ORT writes the file while
 * the session is created; writing under a per-process name and renaming keeps workers that start
 * together from reading each other's half-written file.
 */
export async function createAndCache(
  create: (path: string, options: InferenceSession.SessionOptions) => Promise<InferenceSession>,
  modelPath: string,
  cachePath: string,
  options: InferenceSession.SessionOptions,
  logger: Logger,
): Promise<InferenceSession> {
  const partial = `${cachePath}.${process.pid}.partial`;
  const session = await create(modelPath, { ...options, optimizedModelFilePath: partial });
  try {
    renameSync(partial, cachePath);
    logger.info('cached the optimised model graph', { path: cachePath });
  } catch (error) {
    rmSync(partial, { force: true });
    logger.warn('could not cache the optimised model graph', { path: cachePath, error: String(error) });
  }
  return session;
}
