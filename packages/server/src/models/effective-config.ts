import { MODEL_LIMITS } from '@nodeserve/archiver/manifest';
import type { ModelConfig } from '@nodeserve/archiver';
import type { EffectiveModelConfig, RegisterOptions } from './types.js';

/** TorchServe's `max_batch_delay` when nothing sets one, in milliseconds. */
export const DEFAULT_MAX_BATCH_DELAY_MS = 100;

/** The server's defaults for every model (config.properties). */
export interface EngineDefaults {
  /** Workers per model (`default_workers_per_model`); when unset, `defaultWorkers` picks them per model. */
  workers?: number | undefined;
  /** `batch_size`; when unset, 1, or the handler's `maxBatchSize` with no delay (`EffectiveModelConfig.handlerBatching`). */
  batchSize?: number | undefined;
  /** Milliseconds (`max_batch_delay`); when unset, `DEFAULT_MAX_BATCH_DELAY_MS`, or 0 for a handler batching by its `maxBatchSize`. */
  maxBatchDelay?: number | undefined;
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

/** What the server knows of the host and the model when it chooses a model's workers. */
export interface HostAndModel {
  /** Cores ONNX Runtime's threads are shared across. */
  cpuCount: number;
  /** Bytes of memory on the host. */
  memoryBytes: number;
  /** Bytes of the archive's files (the model's weights, mostly). */
  modelBytes: number;
}

/**
 * A CPU worker's memory besides its weights (Node, ONNX Runtime, libvips and their arenas) and per
 * byte of model file: measured under load at 186–197 MiB for MobileNet v2 int8 (3.5 MB) and
 * 525–550 MiB for ResNet-50 (98 MB), so about 190 MiB + 3.6 × the file.
 */
const WORKER_BASE_BYTES = 192 * 2 ** 20;
const WORKER_BYTES_PER_MODEL_BYTE = 4;
/** Default workers never plan to take more than this share of the host's memory. */
const WORKER_MEMORY_SHARE = 0.5;

/**
 * Workers for a model when neither the archive, the registration nor `default_workers_per_model`
 * says: one per GPU when the server has GPUs (TorchServe's default), else one per core — each with a
 * single ONNX Runtime thread — as long as they fit in half the memory. A worker decodes its images
 * serially, so one worker with every core's threads leaves cores idle while it decodes; one
 * single-threaded worker per core spent 3–10 % less CPU per request on MobileNet v2 int8 and
 * ResNet-50 with JPEG preprocessing, and kept every core busy (docs/server.md, "Workers and threads").
 */
export function defaultWorkers(numberOfGpu: number, archive: ModelConfig, host: HostAndModel): number {
  if (numberOfGpu > 0 && archive.deviceType !== 'cpu') return numberOfGpu;
  const perWorker = WORKER_BASE_BYTES + WORKER_BYTES_PER_MODEL_BYTE * host.modelBytes;
  const fit = Math.floor((host.memoryBytes * WORKER_MEMORY_SHARE) / perWorker);
  return Math.max(1, Math.min(host.cpuCount, fit, MODEL_LIMITS.workers.max));
}

/**
 * Merges server defaults < the archive's config < registration parameters. With no batch size from
 * any of them, a batch is one request until a worker reports that its handler exports `maxBatchSize`
 * (`handlerBatching`). ONNX Runtime's intra-op
 * threads default to cores ÷ workers: TorchServe gives every session all cores, so N workers
 * oversubscribe the CPU N times.
 */
export function effectiveConfig(
  defaults: EngineDefaults,
  archive: ModelConfig,
  options: Pick<RegisterOptions, 'initialWorkers' | 'batchSize' | 'maxBatchDelay' | 'responseTimeout'>,
  host: HostAndModel,
): EffectiveModelConfig {
  const { cpuCount } = host;
  const minWorkers = options.initialWorkers ?? archive.minWorkers ?? defaults.workers ?? defaultWorkers(defaults.numberOfGpu, archive, host);
  const maxWorkers = Math.max(minWorkers, archive.maxWorkers ?? minWorkers, 1);
  const batchSize = options.batchSize ?? archive.batchSize ?? defaults.batchSize;
  const maxBatchDelay = options.maxBatchDelay ?? archive.maxBatchDelay ?? defaults.maxBatchDelay;
  return {
    ...archive,
    minWorkers,
    maxWorkers,
    batchSize: batchSize ?? 1,
    maxBatchDelay: maxBatchDelay ?? DEFAULT_MAX_BATCH_DELAY_MS,
    ...(batchSize === undefined ? { handlerBatching: { maxBatchDelay: maxBatchDelay ?? 0 } } : {}),
    responseTimeout: options.responseTimeout ?? archive.responseTimeout ?? defaults.responseTimeout,
    startupTimeout: archive.startupTimeout ?? defaults.startupTimeout,
    // Inference is normally idempotent; only the handler's author knows when it is not, so only the archive says.
    retryOnWorkerFailure: archive.retryOnWorkerFailure ?? true,
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
