import type { Manifest, ModelConfig } from '@nodeserve/archiver';
import type { NamedTensor, RequestInput, TensorDatatype } from '@nodeserve/handler-sdk';

/** The seam between the HTTP layers and the serving engine (registry, queues, batching, workers). */

export interface InferenceRequest {
  input: RequestInput;
  api: 'predictions' | 'v2' | 'grpc';
  /** `performance.now()` when the request arrived, for queue and end-to-end timings. */
  receivedAt: number;
}

/** One request's answer from its worker. Failures reject `submit()` with a `NodeserveError` instead. */
export type InferenceOutcome = { queueMs: number; inferenceMs: number } & (
  | { kind: 'json'; body: Buffer }
  | { kind: 'bytes'; body: Buffer; contentType: string }
  | { kind: 'tensors'; outputs: NamedTensor[]; parameters?: Record<string, unknown> }
);

export interface TensorMetadata {
  name: string;
  datatype: TensorDatatype;
  /** -1 for a dynamic dimension, as the v2 protocol writes it. */
  shape: number[];
}

/** What a worker reports about its model after `initialize` (from the handler's `describe()`, if any). */
export interface ModelMetadata {
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  platform?: string;
}

/** A model version's settings after merging server defaults < archive config < management parameters. */
export type EffectiveModelConfig = Required<
  Pick<ModelConfig, 'minWorkers' | 'maxWorkers' | 'batchSize' | 'maxBatchDelay' | 'responseTimeout' | 'startupTimeout'>
> & ModelConfig;

export type WorkerState = 'starting' | 'ready' | 'busy' | 'stopping' | 'dead';

export interface WorkerInfo {
  id: string;
  pid: number | undefined;
  state: WorkerState;
  gpuId: number | null;
  startedAt: string;
  restarts: number;
  rssBytes?: number;
}

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
