import type { ModelConfig } from '@nodeserve/archiver';
import type { EffectiveModelConfig, RegisterOptions } from './types.js';

/** The server's defaults for every model (config.properties). */
export interface EngineDefaults {
  /** Workers per model (`default_workers_per_model`). */
  workers: number;
  batchSize: number;
  /** Milliseconds. */
  maxBatchDelay: number;
  /** Seconds. */
  responseTimeout: number;
  /** Requests a model queues before answering 503 (`job_queue_size`). */
  jobQueueSize: number;
  numberOfGpu: number;
  /** Seconds a worker may take to import its handler and initialise (`default_startup_timeout`). */
  startupTimeout: number;
  /** Heap limit of each worker process in MiB (`--max-old-space-size`); Node's own default when absent. */
  workerMaxHeapMb?: number;
}

/**
 * Merges server defaults < the archive's config < registration parameters. ONNX Runtime's intra-op
 * threads default to cores ÷ workers: TorchServe gives every session all cores, so N workers
 * oversubscribe the CPU N times.
 */
export function effectiveConfig(
  defaults: EngineDefaults,
  archive: ModelConfig,
  options: Pick<RegisterOptions, 'initialWorkers' | 'batchSize' | 'maxBatchDelay' | 'responseTimeout'>,
  cpuCount: number,
): EffectiveModelConfig {
  const minWorkers = options.initialWorkers ?? archive.minWorkers ?? defaults.workers;
  const maxWorkers = Math.max(minWorkers, archive.maxWorkers ?? minWorkers, 1);
  return {
    ...archive,
    minWorkers,
    maxWorkers,
    batchSize: options.batchSize ?? archive.batchSize ?? defaults.batchSize,
    maxBatchDelay: options.maxBatchDelay ?? archive.maxBatchDelay ?? defaults.maxBatchDelay,
    responseTimeout: options.responseTimeout ?? archive.responseTimeout ?? defaults.responseTimeout,
    startupTimeout: archive.startupTimeout ?? defaults.startupTimeout,
    intraOpNumThreads: archive.intraOpNumThreads ?? threadsPerWorker(cpuCount, minWorkers),
  };
}

export function threadsPerWorker(cpuCount: number, workers: number): number {
  return Math.max(1, Math.floor(cpuCount / Math.max(1, workers)));
}

/** GPUs handed to workers round-robin: the archive's `deviceIds`, else 0 … number_of_gpu-1; none on CPU. */
export function deviceIds(config: ModelConfig, numberOfGpu: number): number[] {
  if (config.deviceType === 'cpu') return [];
  if (config.deviceIds !== undefined) return config.deviceIds;
  return Array.from({ length: numberOfGpu }, (_, i) => i);
}
