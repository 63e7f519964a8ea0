import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createModelRegistry } from './models/index.js';
import type { ModelRegistry } from './models/types.js';
import type { RegistryDeps } from './server.js';
import { SERVER_VERSION } from './version.js';

/**
 * The serving engine, configured from `config.properties`: archives are extracted under a fresh
 * directory in the system temp dir, removed again when the registry shuts down.
 */
export function createEngineRegistry({ config, events, logger }: RegistryDeps): ModelRegistry {
  const extractRoot = mkdtempSync(path.join(tmpdir(), 'model-server-'));
  const registry = createModelRegistry({
    defaults: {
      workers: config.default_workers_per_model,
      batchSize: config.batch_size,
      maxBatchDelay: config.max_batch_delay,
      responseTimeout: config.default_response_timeout,
      startupTimeout: config.default_startup_timeout,
      jobQueueSize: config.job_queue_size,
      numberOfGpu: config.number_of_gpu,
    },
    extractRoot,
    events,
    logger,
    serverName: 'model-server',
    serverVersion: SERVER_VERSION,
  });
  return {
    ...registry,
    async shutdown() {
      try {
        await registry.shutdown();
      } finally {
        rmSync(extractRoot, { recursive: true, force: true });
      }
    },
  };
}
