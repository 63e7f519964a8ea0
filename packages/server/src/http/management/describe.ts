import { basename } from 'node:path';
import type { ModelVersionHandle } from '../../models/types.js';

/**
 * A model version as `GET /models/{name}` describes it: TorchServe's field names, plus what an
 * operator needs to see a live model's state (readiness, restarts, each worker's pid and memory).
 */
export function describeVersion(handle: ModelVersionHandle, isDefault: boolean, jobQueueSize: number) {
  const pending = handle.queueLength();
  return {
    modelName: handle.name,
    modelVersion: handle.version,
    modelUrl: basename(handle.archivePath),
    runtime: 'node',
    isDefault,
    ready: handle.isReady(),
    minWorkers: handle.config.minWorkers,
    maxWorkers: handle.config.maxWorkers,
    batchSize: handle.config.batchSize,
    maxBatchDelay: handle.config.maxBatchDelay,
    responseTimeout: handle.config.responseTimeout,
    retryOnWorkerFailure: handle.config.retryOnWorkerFailure,
    ...(handle.manifest.model.description === undefined ? {} : { description: handle.manifest.model.description }),
    workers: handle.workers().map((w) => ({
      id: w.id,
      pid: w.pid ?? null,
      status: w.state.toUpperCase(),
      startTime: w.startedAt,
      restarts: w.restarts,
      memoryUsage: w.rssBytes ?? null,
      gpu: w.gpuId !== null,
      gpuId: w.gpuId,
    })),
    jobQueueStatus: { remainingCapacity: Math.max(0, jobQueueSize - pending), pendingRequests: pending },
  };
}
