import { readManifest } from '@nodeserve/archiver/reader';
import type { ModelsProperty } from '../config/models-property.js';
import type { ModelRegistry, ModelVersionHandle, RegisterOptions } from '../models/types.js';

/**
 * Registers an archive with its `models=` settings from config.properties applied in TorchServe's
 * order: `models=` < the archive's own config < the registration's parameters (management API query,
 * `NAME=` at start-up). The settings are keyed by name and version, so with any `models=` set the
 * manifest is read first (for a zip, only its central directory and manifest). `defaultVersion: true`
 * makes the version the default once it is registered; `maxWorkers` is recorded as its maximum.
 */
export async function registerArchive(registry: ModelRegistry, models: ModelsProperty, options: RegisterOptions): Promise<ModelVersionHandle> {
  if (Object.keys(models).length === 0) return registry.register(options);
  const manifest = await readManifest(options.archive);
  const settings = models[options.modelName ?? manifest.model.modelName]?.[manifest.model.modelVersion];
  if (settings === undefined) return registry.register(options);
  const own = manifest.config;
  const merged: RegisterOptions = { ...options };
  if (merged.initialWorkers === undefined && own.minWorkers === undefined && settings.minWorkers !== undefined) merged.initialWorkers = settings.minWorkers;
  if (merged.batchSize === undefined && own.batchSize === undefined && settings.batchSize !== undefined) merged.batchSize = settings.batchSize;
  if (merged.maxBatchDelay === undefined && own.maxBatchDelay === undefined && settings.maxBatchDelay !== undefined) merged.maxBatchDelay = settings.maxBatchDelay;
  if (merged.responseTimeout === undefined && own.responseTimeout === undefined && settings.responseTimeout !== undefined) merged.responseTimeout = settings.responseTimeout;
  const handle = await registry.register(merged);
  if (own.maxWorkers === undefined && settings.maxWorkers !== undefined && settings.maxWorkers !== handle.config.maxWorkers) {
    await handle.scale(handle.config.minWorkers, Math.max(settings.maxWorkers, handle.config.minWorkers), false);
  }
  if (settings.defaultVersion === true) registry.setDefault(handle.name, handle.version);
  return handle;
}
