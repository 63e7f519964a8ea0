import type { Manifest, ModelConfig } from '@nodeserve/archiver';
import type { ModelDescription } from '@nodeserve/handler-sdk';
import type { InferenceOutcome, InferenceRequest } from '../batching/job.js';
import type { WorkerInfo } from '../workers/worker.js';

/**
 * The seam between the HTTP layers and the serving engine (registry, queues, batching, workers). The
 * request, outcome and worker shapes belong to the layers that produce them and are re-exported here.
 */

export type { InferenceOutcome, InferenceRequest, InferenceResult } from '../batching/job.js';
export type { WorkerInfo, WorkerState } from '../workers/worker.js';
export type { ModelDescription, TensorMetadata } from '@nodeserve/handler-sdk';

/**
 * What a loaded model version tells the v2 metadata endpoint: its handler's `describe()` (the SDK's
 * `ModelDescription`), or no inputs, no outputs and no platform when the handler has none.
 */
export type ModelMetadata = Omit<ModelDescription, 'platform'> & Partial<Pick<ModelDescription, 'platform'>>;

/** A model version's settings after merging server defaults < archive config < management parameters. */
export type EffectiveModelConfig = Required<
  Pick<ModelConfig, 'minWorkers' | 'maxWorkers' | 'batchSize' | 'maxBatchDelay' | 'responseTimeout' | 'startupTimeout' | 'retryOnWorkerFailure'>
> & ModelConfig & {
  /**
   * Present when nothing configured a batch size: once a worker reports that its handler exports
   * `maxBatchSize` (batch-first handlers, the SDK's among them), batches are the requests already
   * waiting, up to that many, collected for `maxBatchDelay` ms (the configured delay, else 0); until
   * then, and for handlers without it, one request at a time.
   */
  handlerBatching?: { maxBatchDelay: number };
};

export interface ModelVersionHandle {
  readonly name: string;
  readonly version: string;
  readonly manifest: Manifest;
  readonly modelDir: string;
  readonly archivePath: string;
  readonly config: EffectiveModelConfig;
  /**
   * Set once a worker has loaded the model: the handler's `describe()`, or no inputs and outputs when it
   * has none. Kept when the version is scaled to zero.
   */
  readonly metadata: ModelMetadata | undefined;
  /** Queues the request (rejects with `QueueFull` at once when full) and resolves with its answer. */
  submit(request: InferenceRequest): Promise<InferenceOutcome>;
  queueLength(): number;
  workers(): WorkerInfo[];
  /** True while at least `max(1, minWorkers)` workers are alive and initialised. */
  isReady(): boolean;
  /** Changes the worker count live; resolves once the pool has reached it when `synchronous`. */
  scale(minWorkers: number, maxWorkers: number, synchronous: boolean): Promise<void>;
}

export interface RegisterOptions {
  /** Absolute path of a `.mar`, `.tar.gz` or archive directory, already checked to be allowed. */
  archive: string;
  modelName?: string;
  initialWorkers?: number;
  batchSize?: number;
  maxBatchDelay?: number;
  responseTimeout?: number;
  /** Resolve only once the initial workers are ready (else as soon as the archive is validated). */
  synchronous?: boolean;
  /**
   * The archive is extracted and checked at once, but its workers start only once this resolves; if it
   * rejects, the registration is abandoned (what was extracted is removed) and rejects with that reason.
   */
  startAfter?: Promise<unknown>;
  /**
   * One of the start-up models (`load_models`, `--models`). They load concurrently and finish in any
   * order; among the start-up versions of one name the highest (`compareVersions` in versions.ts) is the default,
   * unless set-default chose one.
   */
  initial?: boolean;
}

export interface ModelRegistry {
  register(options: RegisterOptions): Promise<ModelVersionHandle>;
  /** Stops routing to the version, answers its queued and running requests, ends its workers. */
  unregister(name: string, version?: string): Promise<void>;
  setDefault(name: string, version: string): void;
  /** Throws `ModelNotFound`. Without a version: the default version. */
  resolve(name: string, version?: string): ModelVersionHandle;
  list(): Array<{ name: string; defaultVersion: string; versions: ModelVersionHandle[] }>;
  /** Every model has its minimum of live workers. */
  isHealthy(): boolean;
  /** Drains every model (see `unregister`). */
  shutdown(): Promise<void>;
}
