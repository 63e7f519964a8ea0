import type { Manifest } from '@nodeserve/archiver';
import type { Logger } from '@nodeserve/handler-sdk';
import { join } from 'node:path';
import { type BatchingSettings, Batcher } from '../batching/batcher.js';
import type { Job } from '../batching/job.js';
import { ModelNotReady, QueueFull, ServerDraining } from '../errors.js';
import type { ServerEvents } from '../events.js';
import { Worker } from '../workers/worker.js';
import { WorkerPool } from '../workers/worker-pool.js';
import { threadsPerWorker } from './effective-config.js';
import type {
  EffectiveModelConfig, InferenceOutcome, InferenceRequest, ModelMetadata, ModelVersionHandle, WorkerInfo,
} from './types.js';

export interface ModelVersionOptions {
  name: string;
  manifest: Manifest;
  modelDir: string;
  /** The version's own cache directory, outside the archive and kept across restarts. */
  cacheDir: string;
  archivePath: string;
  config: EffectiveModelConfig;
  /** Whether the archive fixed ONNX Runtime's threads; if not, they follow the worker count. */
  fixedThreads: boolean;
  jobQueueSize: number;
  devices: number[];
  cpuCount: number;
  workerMain: string;
  workerExecArgv: string[];
  memoryReportMs: number;
  serverName: string;
  serverVersion: string;
  logger: Logger;
  events: ServerEvents;
}

/**
 * A worker's environment: the server's, with libuv's thread pool (`UV_THREADPOOL_SIZE`, which runs
 * sharp's pipelines and ONNX Runtime's runs) as large as the worker's share of the cores, its ONNX
 * Runtime thread count, unless the server's environment sets one. Node's default of 4 let the 8 images
 * of a batch decode 4 at a time in each single-core worker: one thread per core spent 3.6 % less of
 * the workers' CPU per MobileNet v2 request (9.64 against 10.00 ms, four alternating runs of 5,000
 * requests under `ab -k -c 100`, 2 vCPUs; docs/server.md, "Workers and threads").
 */
function workerEnvironment(intraOpNumThreads: number | undefined): NodeJS.ProcessEnv {
  if (process.env['UV_THREADPOOL_SIZE'] !== undefined) return process.env;
  return { ...process.env, UV_THREADPOOL_SIZE: String(Math.max(1, intraOpNumThreads ?? 1)) };
}

/**
 * One registered version of a model: composes its batcher (queue and dynamic batching) and its worker
 * pool, whose workers pull their batches from the batcher.
 */
export class ModelVersion implements ModelVersionHandle {
  readonly name: string;
  readonly version: string;
  readonly manifest: Manifest;
  readonly modelDir: string;
  readonly archivePath: string;
  metadata: ModelMetadata | undefined;
  private currentConfig: EffectiveModelConfig;
  private readonly batcher: Batcher;
  private readonly pool: WorkerPool<Worker>;
  private draining = false;
  /** Requests accepted and not yet answered. */
  private inFlight = 0;
  /** Drains waiting for `inFlight` to come back to 0. */
  private readonly awaitingAnswers: Array<() => void> = [];
  private workerSeq = 0;
  /** Counts scale calls, so a retirement waiting for its requests knows when a newer call replaced it. */
  private scaleGeneration = 0;

  constructor(private readonly options: ModelVersionOptions) {
    this.name = options.name;
    this.version = options.manifest.model.modelVersion;
    this.manifest = options.manifest;
    this.modelDir = options.modelDir;
    this.archivePath = options.archivePath;
    this.currentConfig = options.config;
    const model = { model: this.name, version: this.version };
    this.batcher = new Batcher(this.batchingSettings(), {
      depth: (depth) => options.events.emit('queue.depth', { ...model, depth }),
      retried: (job, cause) => options.events.emit('request.retried', { ...model, requestId: job.request.input.requestId, cause }),
      retryFailed: (job, cause) => options.events.emit('request.retryFailed', { ...model, requestId: job.request.input.requestId, cause }),
    });
    this.pool = new WorkerPool({
      model: this.name,
      version: this.version,
      logger: options.logger,
      spawn: (slot) => this.spawn(slot),
    });
    // A loaded model has metadata even when its handler cannot describe it; the last one known stays when scaled to zero.
    this.pool.on('metadata', (metadata) => {
      this.metadata = metadata ?? this.metadata ?? { inputs: [], outputs: [] };
    });
    this.pool.on('startFailed', (error) =>
      this.failQueued(() => new ModelNotReady(this.name, `no worker could start: ${error.message}`)));
  }

  get config(): EffectiveModelConfig {
    return this.currentConfig;
  }

  submit(request: InferenceRequest): Promise<InferenceOutcome> {
    if (this.draining) return Promise.reject(new ServerDraining());
    // Scaled to zero: refused from the moment of the scale call, while the workers finish what was accepted.
    if (this.currentConfig.minWorkers === 0) return Promise.reject(new ModelNotReady(this.name, 'it has no workers; scale it up first'));
    return new Promise<InferenceOutcome>((resolve, reject) => {
      let answered = false;
      // The one place a request's answer passes: a second answer would be a bug upstream, and would
      // also upset the count the drain waits on. It is dropped and logged (the soak looks for it).
      const first = (): boolean => {
        if (answered) {
          this.options.logger.error('request answered twice: the second answer is dropped', { model: this.name, version: this.version, requestId: request.input.requestId });
          return false;
        }
        answered = true;
        this.settled();
        return true;
      };
      const job: Job = {
        request,
        resolve: (outcome) => {
          if (first()) resolve(outcome);
        },
        reject: (error) => {
          if (first()) reject(error);
        },
      };
      this.inFlight++;
      if (!this.batcher.submit(job)) {
        this.inFlight--;
        reject(new QueueFull(this.name, this.batcher.queueCapacity));
      }
    });
  }

  queueLength(): number {
    return this.batcher.depth;
  }

  workers(): WorkerInfo[] {
    return this.pool.workers();
  }

  isReady(): boolean {
    return !this.draining && this.pool.live >= Math.max(1, this.currentConfig.minWorkers);
  }

  /** Has its minimum of live workers (a model scaled to zero is healthy). */
  isHealthy(): boolean {
    return this.pool.live >= this.currentConfig.minWorkers;
  }

  /** Starts the configured workers; with `synchronous`, rejects with `ModelLoadFailed` if they cannot initialise. */
  start(synchronous: boolean): Promise<void> {
    return this.pool.resize(this.currentConfig.minWorkers, synchronous);
  }

  /**
   * Changes the worker count live. Scaling to zero refuses new requests at once (503 `ModelNotReady`),
   * lets the workers answer every request already accepted, queued or running, and only then retires
   * them, as unregistering does; with `synchronous` it resolves once they are gone. A later scale call
   * supersedes a retirement still waiting for its requests.
   */
  async scale(minWorkers: number, maxWorkers: number, synchronous: boolean): Promise<void> {
    if (this.draining) throw new ServerDraining();
    const config: EffectiveModelConfig = { ...this.currentConfig, minWorkers, maxWorkers: Math.max(minWorkers, maxWorkers) };
    if (!this.options.fixedThreads) config.intraOpNumThreads = threadsPerWorker(this.options.cpuCount, minWorkers);
    this.currentConfig = config;
    const generation = ++this.scaleGeneration;
    if (minWorkers > 0) {
      await this.pool.resize(minWorkers, synchronous);
      return;
    }
    const retire = this.answered().then(() => (generation === this.scaleGeneration ? this.pool.resize(0, true) : undefined));
    if (synchronous) await retire;
    else retire.catch((error: unknown) => this.options.logger.error('scaling to zero workers failed', { model: this.name, version: this.version, error }));
  }

  /** Resolves once every accepted request has its answer. */
  private answered(): Promise<void> {
    return this.inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => this.awaitingAnswers.push(resolve));
  }

  /** Stops taking requests, answers every queued and running one, then ends the workers. */
  async drain(): Promise<void> {
    this.draining = true;
    this.batcher.flush();
    if (this.pool.target === 0) this.failQueued(() => new ServerDraining());
    // Nothing left to run the queue: answer it rather than wait for workers that will not come.
    const answerStranded = (): void => {
      if (this.pool.live === 0 && this.pool.busy === 0 && this.batcher.pending > 0 && !this.startingSoon()) {
        this.failQueued(() => new ServerDraining());
      }
    };
    this.pool.on('change', answerStranded);
    try {
      answerStranded();
      await this.answered();
    } finally {
      this.pool.off('change', answerStranded);
    }
    await this.pool.stop();
  }

  /** A worker is starting, or a dead one's replacement is due: a request retried during the drain waits for it. */
  private startingSoon(): boolean {
    return this.pool.target > 0 && (this.pool.restarting > 0 || this.pool.workers().some((w) => w.state === 'starting'));
  }

  private settled(): void {
    this.inFlight--;
    if (this.inFlight === 0) for (const resolve of this.awaitingAnswers.splice(0)) resolve();
  }

  private failQueued(error: () => Error): void {
    for (const job of this.batcher.takeQueued()) job.reject(error());
  }

  private batchingSettings(): BatchingSettings {
    return {
      batchSize: this.currentConfig.batchSize,
      maxBatchDelay: this.currentConfig.maxBatchDelay,
      queueCapacity: this.options.jobQueueSize,
      retryOnWorkerFailure: this.currentConfig.retryOnWorkerFailure,
    };
  }

  private gpuFor(slot: number): number | null {
    const { devices } = this.options;
    return devices.length === 0 ? null : devices[slot % devices.length]!;
  }

  /**
   * With no batch size configured, a handler exporting `maxBatchSize` gets the requests already
   * waiting, up to that many, at once: under load they form batches at no cost in latency (no worker
   * waits for a batch to fill), one worker message and one ONNX Runtime run per batch; at low load a
   * batch is the one request that came.
   */
  private adoptHandlerBatching(maxBatchSize: number | undefined): void {
    const config = this.currentConfig;
    if (config.handlerBatching === undefined || maxBatchSize === undefined) return;
    const { maxBatchDelay } = config.handlerBatching;
    if (config.batchSize === maxBatchSize && config.maxBatchDelay === maxBatchDelay) return;
    this.currentConfig = { ...config, batchSize: maxBatchSize, maxBatchDelay };
    this.batcher.setBatching(maxBatchSize, maxBatchDelay);
    this.options.logger.info('the handler takes batches: the requests already waiting go to a worker together', {
      model: this.name, version: this.version, batchSize: maxBatchSize, maxBatchDelay,
    });
  }

  private spawn(slot: number): Worker {
    const { manifest, modelDir } = this;
    const { handlerBatching, ...config } = this.currentConfig;
    const { options } = this;
    this.workerSeq++;
    const worker = new Worker({
      id: `${this.name}-${this.version}-w${this.workerSeq}`,
      workerMain: options.workerMain,
      execArgv: options.workerExecArgv,
      env: workerEnvironment(config.intraOpNumThreads),
      startupTimeoutMs: config.startupTimeout * 1000,
      responseTimeoutMs: config.responseTimeout * 1000,
      logger: options.logger,
      events: options.events,
      source: this.batcher,
      init: {
        modelName: this.name,
        modelVersion: this.version,
        modelDir,
        cacheDir: options.cacheDir,
        bundlePath: join(modelDir, manifest.entryPoint.bundle),
        exportName: manifest.entryPoint.exportName,
        manifest,
        config,
        gpuId: this.gpuFor(slot),
        batchSize: config.batchSize,
        ...(handlerBatching === undefined ? {} : { handlerBatching }),
        serverName: options.serverName,
        serverVersion: options.serverVersion,
        memoryReportMs: options.memoryReportMs,
      },
    });
    worker.ready.then(() => this.adoptHandlerBatching(worker.maxBatchSize), () => undefined);
    return worker;
  }
}
