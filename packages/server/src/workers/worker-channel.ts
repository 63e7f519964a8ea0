import { performance } from 'node:perf_hooks';
import type { Logger, ModelDescription } from '@nodeserve/handler-sdk';
import type { HandlerError } from '@nodeserve/handler-sdk/errors';
import type { Job, LostBatchCause } from '../batching/job.js';
import { BadRequest, HandlerTimeout, InvalidHandlerOutput, ModelLoadFailed, WorkerDied } from '../errors.js';
import type { ServerEvents } from '../events.js';
import { type Frame, FrameReader, PayloadBuilder, writeFrame } from './frames.js';
import {
  type FromWorker, type WireError, type WireRequest, type WireResult, type WorkerInit,
  decodeResult, encodeRequest, fromWireError,
} from './protocol.js';
import type { WorkerLifeCycle } from './worker-life-cycle.js';

export interface WorkerChannelOptions {
  workerId: string;
  init: WorkerInit;
  /** Milliseconds the handler may take to initialise before the process is killed. */
  startupTimeoutMs: number;
  /** Milliseconds one batch may take before its requests get 504 and the process is killed. */
  responseTimeoutMs: number;
  logger: Logger;
  events: ServerEvents;
  /**
   * Takes a batch the channel lost (the process died, or ran past the response timeout and is being
   * killed) and answers each of its jobs, with `failure(job)` or by trying it again elsewhere
   * (`BatchSource.lost`).
   */
  lost(jobs: readonly Job[], cause: LostBatchCause, failure: (job: Job) => Error): void;
}

interface RunningBatch {
  id: number;
  jobs: Job[];
  timer: NodeJS.Timeout;
  done(): void;
}

/**
 * The server's end of a worker's binary channel on fd 3 (the I/O half of TorchServe's
 * `WorkerThread`): sends the init message, batches and the stop message; reads results, logs,
 * custom metrics and memory reports; settles each job of a batch exactly once, from its result or the
 * batch's failure, or hands the batch to `lost` once, on the response timeout or the process's death
 * (a result that arrives after that is dropped). A timeout or a corrupt frame kills the process
 * through its life cycle.
 */
export class WorkerChannel {
  /** Resolves with the handler's description once the worker has initialised; rejects with `ModelLoadFailed`. */
  readonly ready: Promise<ModelDescription | undefined>;
  /** `performance.now()` when the worker initialised. */
  readyAt: number | undefined;
  /** The handler's `maxBatchSize` export, once ready; undefined when it has none. */
  maxBatchSize: number | undefined;
  /** The worker's resident memory in bytes, as last reported. */
  rssBytes: number | undefined;

  private batch: RunningBatch | undefined;
  /** Ends `run` for a batch answered 504: the worker takes nothing more until its killed process has exited. */
  private abandoned: (() => void) | undefined;
  private nextBatchId = 1;
  private closedFor: string | undefined;
  private readonly startupTimer: NodeJS.Timeout;
  private settleReady!: { resolve(m: ModelDescription | undefined): void; reject(e: Error): void };

  constructor(private readonly life: WorkerLifeCycle, private readonly options: WorkerChannelOptions) {
    this.ready = new Promise((resolve, reject) => (this.settleReady = { resolve, reject }));
    // Callers that only care about exits must not see an unhandled rejection.
    this.ready.catch(() => undefined);
    const reader = new FrameReader<FromWorker>((frame) => this.onFrame(frame));
    life.channel.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (error) {
        life.kill(`sent a corrupt frame (${(error as Error).message})`);
      }
    });
    this.startupTimer = setTimeout(
      () => life.kill(`did not initialise within the startup timeout of ${options.startupTimeoutMs / 1000} s`),
      options.startupTimeoutMs,
    );
    writeFrame(life.channel, { type: 'init', init: options.init });
  }

  /**
   * Sends the jobs as one batch; resolves once every job is settled. A job whose request cannot be
   * encoded is answered `BadRequest` at once and left out of the batch.
   */
  run(jobs: Job[]): Promise<void> {
    if (this.closedFor !== undefined) {
      const died = this.died(this.closedFor);
      for (const job of jobs) job.reject(died);
      return Promise.resolve();
    }
    const now = performance.now();
    const payload = new PayloadBuilder();
    const sent: Job[] = [];
    const requests: WireRequest[] = [];
    for (const job of jobs) {
      job.dispatchedAt = now;
      try {
        // A body may be JSON on /predictions and KServe v1; Open Inference requests (v2, gRPC) arrive as tensors.
        const parseJson = job.request.api === 'predictions' || job.request.api === 'v1';
        requests.push(encodeRequest(job.request.input, payload, parseJson));
        sent.push(job);
      } catch (error) {
        job.reject(new BadRequest((error as Error).message));
      }
    }
    if (sent.length === 0) return Promise.resolve();
    const id = this.nextBatchId++;
    const seconds = this.options.responseTimeoutMs / 1000;
    return new Promise((done) => {
      const timer = setTimeout(() => this.timeOut(seconds), this.options.responseTimeoutMs);
      this.batch = { id, jobs: sent, timer, done };
      writeFrame(this.life.channel, { type: 'batch', batchId: id, requests, segments: payload.segments }, payload);
    });
  }

  /** True from sending a batch until the worker can take the next one. */
  get running(): boolean {
    return this.batch !== undefined || this.abandoned !== undefined;
  }

  /** Asks an idle, initialised worker to exit. */
  sendStop(): void {
    writeFrame(this.life.channel, { type: 'stop' });
  }

  /**
   * The process is gone: the batch it held is answered `WorkerDied` naming `reason`, and if it never
   * initialised, `ready` rejects with `ModelLoadFailed`.
   */
  close(reason: string): void {
    if (this.closedFor !== undefined) return;
    this.closedFor = reason;
    clearTimeout(this.startupTimer);
    const batch = this.takeBatch();
    if (batch !== undefined) {
      this.options.lost(batch.jobs, 'died', (job) => this.died(reason, job));
      batch.done();
    }
    this.abandoned?.();
    this.abandoned = undefined;
    if (this.readyAt === undefined) {
      this.settleReady.reject(new ModelLoadFailed(`Model "${this.options.init.modelName}" failed to load: a worker ${reason}`));
    }
  }

  private get model(): { model: string; version: string } {
    return { model: this.options.init.modelName, version: this.options.init.modelVersion };
  }

  /** `job`, if given, was lost by this worker: its message says when this was its second try. */
  private died(reason: string, job?: Job): WorkerDied {
    return new WorkerDied(this.options.init.modelName, job?.retried === undefined ? reason : `${reason}${secondTry(job.retried.cause)}`);
  }

  private onFrame(frame: Frame<FromWorker>): void {
    const message = frame.header;
    switch (message.type) {
      case 'ready':
        clearTimeout(this.startupTimer);
        this.readyAt = performance.now();
        this.maxBatchSize = message.maxBatchSize;
        this.settleReady.resolve(message.metadata);
        return;
      case 'initFailed':
        this.life.fail(`its handler failed to initialise: ${message.error.message}`);
        this.options.logger.error(
          `worker ${this.options.workerId} failed to initialise: ${message.error.stack ?? message.error.message}`,
          { ...this.model, workerId: this.options.workerId },
        );
        this.settleReady.reject(new ModelLoadFailed(`Model "${this.options.init.modelName}" failed to load: ${message.error.message}`));
        return;
      case 'results':
        this.onResults(frame, message.batchId, message.handlerMs, message.results);
        return;
      case 'batchFailed':
        this.onBatchFailed(message.batchId, message.handlerMs, message.error);
        return;
      case 'log':
        this.options.logger[message.level](message.message, { ...message.fields, ...this.model, workerId: this.options.workerId });
        return;
      case 'metric':
        this.options.events.emit('custom.metric', {
          ...this.model, kind: message.kind, name: message.name, value: message.value, labels: message.labels,
        });
        return;
      case 'memory':
        this.rssBytes = message.rssBytes;
        this.options.events.emit('worker.memory', {
          ...this.model, workerId: this.options.workerId, pid: this.life.pid ?? -1, rssBytes: message.rssBytes,
        });
        return;
      case 'fatal':
        this.life.lastWords(message.error);
        return;
    }
  }

  private takeBatch(): RunningBatch | undefined {
    const batch = this.batch;
    if (batch !== undefined) clearTimeout(batch.timer);
    this.batch = undefined;
    return batch;
  }

  /** The running batch, taken for answering, if `batchId` names it. */
  private finished(batchId: number, handlerMs: number): RunningBatch | undefined {
    // A batch already answered 504 may still report; its requests have their answer.
    if (this.batch === undefined || this.batch.id !== batchId) return undefined;
    const batch = this.takeBatch()!;
    this.options.events.emit('batch.finished', { ...this.model, size: batch.jobs.length, inferenceMs: handlerMs });
    return batch;
  }

  private timeOut(seconds: number): void {
    const batch = this.takeBatch();
    if (batch === undefined) return;
    this.abandoned = batch.done;
    this.options.lost(batch.jobs, 'timeout', (job) =>
      new HandlerTimeout(this.options.init.modelName, seconds, job.retried === undefined ? '' : secondTry(job.retried.cause)));
    this.life.kill(`killed: a batch ran past the response timeout of ${seconds} s`);
  }

  private onResults(frame: Frame<FromWorker>, batchId: number, handlerMs: number, results: WireResult[]): void {
    if (this.batch?.id !== batchId) return;
    // Decoded before the batch is taken: a result that does not decode is a corrupt frame, which kills
    // the process, and the batch, still held, is then answered `WorkerDied`.
    const decoded = this.batch.jobs.map((_, i) => {
      const result = results[i];
      return result === undefined ? undefined : decodeResult(result, frame);
    });
    const batch = this.finished(batchId, handlerMs)!;
    batch.jobs.forEach((job, i) => {
      const result = decoded[i];
      if (result === undefined) {
        job.reject(new InvalidHandlerOutput('the worker sent no result for this request'));
      } else if (result.kind === 'error') {
        job.reject(this.handlerFailed(result.error, [job.request.input.requestId]));
      } else {
        const queueMs = (job.dispatchedAt ?? job.request.receivedAt) - job.request.receivedAt;
        job.resolve({ queueMs, inferenceMs: handlerMs, ...result });
      }
    });
    batch.done();
  }

  private onBatchFailed(batchId: number, handlerMs: number, error: WireError): void {
    const batch = this.finished(batchId, handlerMs);
    if (batch === undefined) return;
    const failure = this.handlerFailed(error, batch.jobs.map((job) => job.request.input.requestId));
    for (const job of batch.jobs) job.reject(failure);
    batch.done();
  }

  /** Reports the handler's full stack (for the log) and builds the error its clients get: message, code and status only. */
  private handlerFailed(error: WireError, requestIds: string[]): HandlerError {
    const failed = fromWireError(error);
    const event = { ...this.model, workerId: this.options.workerId, requestIds, code: failed.code, status: failed.status, message: failed.message };
    this.options.events.emit('handler.failed', error.stack === undefined ? event : { ...event, stack: error.stack });
    return failed;
  }
}

/** What a request's failure adds when it was its retry that failed. */
function secondTry(firstCause: LostBatchCause): string {
  const first = firstCause === 'died' ? 'died' : 'ran past the response timeout';
  return ` (its second try, alone: the worker of its first try ${first}; it is not tried again)`;
}
