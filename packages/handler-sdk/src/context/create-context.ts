import { isAbsolute } from 'node:path';
import { ManifestSchema, ModelConfigSchema, type Manifest, type ModelConfig } from '@nodeserve/archiver/manifest';
import type { z } from 'zod';
import { ModelFailed } from '../errors.js';
import type { Context, Logger, MetricsRecorder } from '../types.js';

export interface CreateContextOptions {
  /** Where the archive was extracted. */
  modelDir: string;
  manifest: Manifest;
  /** The effective model config; defaults to the manifest's own `config`. */
  config?: ModelConfig;
  /** The GPU this worker uses, or `null`/absent for CPU. */
  gpuId?: number | null;
  /** Defaults to `config.batchSize`, else 1. */
  batchSize?: number;
  serverName: string;
  serverVersion: string;
  /** The server's per-model cache directory, outside the archive; without one nothing is cached. */
  cacheDir?: string;
  logger: Logger;
  metrics: MetricsRecorder;
}

function describeIssues(what: string, error: z.ZodError): string {
  const issues = error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`);
  return `invalid ${what}: ${issues.join('; ')}`;
}

/**
 * Builds the `context` a handler receives. The server's worker calls it once per worker; tests use it
 * to run handlers in-process. The manifest and config are validated here so a handler can trust them.
 */
export function createContext(options: CreateContextOptions): Context {
  const manifest = ManifestSchema.safeParse(options.manifest);
  if (!manifest.success) throw new ModelFailed(describeIssues('manifest', manifest.error));
  const config = ModelConfigSchema.safeParse(options.config ?? manifest.data.config);
  if (!config.success) throw new ModelFailed(describeIssues('model config', config.error));
  const gpuId = options.gpuId ?? null;
  if (gpuId !== null && (!Number.isInteger(gpuId) || gpuId < 0)) throw new ModelFailed(`invalid gpuId ${gpuId}: expected a non-negative integer or null`);
  const batchSize = options.batchSize ?? config.data.batchSize ?? 1;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ModelFailed(`invalid batchSize ${batchSize}: expected a positive integer`);
  if (options.cacheDir !== undefined && !isAbsolute(options.cacheDir)) throw new ModelFailed(`invalid cacheDir ${options.cacheDir}: expected an absolute path`);
  return {
    systemProperties: {
      modelDir: options.modelDir,
      gpuId,
      batchSize,
      serverName: options.serverName,
      serverVersion: options.serverVersion,
      ...(options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir }),
    },
    manifest: manifest.data,
    modelName: manifest.data.model.modelName,
    modelVersion: manifest.data.model.modelVersion,
    config: config.data,
    logger: options.logger,
    metrics: options.metrics,
  };
}
