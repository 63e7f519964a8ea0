import { createModelRegistry, defaultExtractRoot } from './models/index.js';
import type { ModelRegistry } from './models/types.js';
import type { RegistryDeps } from './server.js';
import { SERVER_NAME, SERVER_VERSION } from './version.js';

/**
 * The serving engine, configured from `config.properties`: archives are extracted under this user's
 * directory in the system temp dir; the registry removes its own extractions when it shuts down and
 * those of servers that were killed when it starts.
 */
export function createEngineRegistry({ config, events, logger }: RegistryDeps): ModelRegistry {
  return createModelRegistry({
    defaults: {
      workers: config.default_workers_per_model,
      batchSize: config.batch_size,
      maxBatchDelay: config.max_batch_delay,
      responseTimeout: config.default_response_timeout,
      startupTimeout: config.default_startup_timeout,
      jobQueueSize: config.job_queue_size,
      numberOfGpu: config.number_of_gpu,
    },
    extractRoot: defaultExtractRoot(),
    events,
    logger,
    serverName: SERVER_NAME,
    serverVersion: SERVER_VERSION,
  });
}
