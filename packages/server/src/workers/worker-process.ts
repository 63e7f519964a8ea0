import { type ChildProcess, spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import type { Logger } from '@nodeserve/handler-sdk';
import type { Job } from '../batching/job.js';
import type { HandlerError } from '@nodeserve/handler-sdk/errors';
import { BadRequest, HandlerTimeout, InvalidHandlerOutput, ModelLoadFailed, WorkerDied } from '../errors.js';
import type { ServerEvents } from '../events.js';
import type { InferenceOutcome, ModelMetadata, WorkerInfo, WorkerState } from '../models/types.js';
import { type Frame, FrameReader, PayloadBuilder, segment, writeFrame } from './frames.js';
import { type FromWorker, type WireError, type WireResult, type WorkerInit, decodeTensor, encodeRequest, fromWireError } from './protocol.js';

export interface WorkerProcessOptions {
  id: string;
  /** Path of the built worker entry (`worker-main.js`). */
  workerMain: string;
  init: WorkerInit;
  /** Node options for the worker, e.g. a heap limit. */
  execArgv: string[];
  startupTimeoutMs: number;
  responseTimeoutMs: number;
  logger: Logger;
  events: ServerEvents;
  /** The worker finished its batch and can take another. */
  onIdle(worker: WorkerProcess): void;
  onExit(worker: WorkerProcess, exit: WorkerExit): void;
}

export interface WorkerExit {
  /** False for crashes, timeouts, failed starts: anything but a stop the server asked for. */
  expected: boolean;
  reason: string;
  /** Milliseconds the worker was serving, or undefined if it never became ready. */
  servedMs: number | undefined;
}

/** How long a worker asked to stop may take before it is killed. */
const STOP_GRACE_MS = 5000;
/** Lines of stderr kept to explain a crash (the last lines name the cause: OOM, abort, uncaught error). */
const STDERR_TAIL_LINES = 20;

interface RunningBatch {
  id: number;
  jobs: Job[];
  timer: NodeJS.Timeout;
}

/**
 * One worker process as the server sees it: it starts the process, sends it batches over the binary
 * channel on fd 3, settles each request's promise from the answer, and turns every way a process can
 * fail (exit, signal, out of memory, hang) into answers for the requests it held.
 */
export class WorkerProcess {
  readonly id: string;
  readonly startedAt = new Date().toISOString();
  /** Resolves with the handler's description once the worker has initialised; rejects with `ModelLoadFailed`. */
  readonly ready: Promise<ModelMetadata | undefined>;
  readonly exited: Promise<void>;
  state: WorkerState = 'starting';
  rssBytes: number | undefined;
  /** Set when the pool no longer wants this worker: it stops after its current batch. */
  retiring = false;

  private readonly child: ChildProcess;
  private readonly channel: Socket;
  private batch: RunningBatch | undefined;
  private nextBatchId = 1;
  private readyAt: number | undefined;
  private stopRequested = false;
  private failure: string | undefined;
  private fatal: WireError | undefined;
  private readonly stderrTail: string[] = [];
  private startupTimer: NodeJS.Timeout | undefined;
  private settleReady!: { resolve(m: ModelMetadata | undefined): void; reject(e: Error): void };
  private markExited!: () => void;

  constructor(private readonly options: WorkerProcessOptions) {
    this.id = options.id;
    this.ready = new Promise((resolve, reject) => (this.settleReady = { resolve, reject }));
    // Callers that only care about exits must not see an unhandled rejection.
    this.ready.catch(() => undefined);
    this.exited = new Promise((resolve) => (this.markExited = resolve));

    this.child = spawn(process.execPath, [...options.execArgv, options.workerMain], {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      env: process.env,
    });
    this.channel = this.child.stdio[3] as Socket;
    const reader = new FrameReader<FromWorker>((frame) => this.onFrame(frame));
    this.channel.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (error) {
        this.kill(`sent a corrupt frame (${(error as Error).message})`);
      }
    });
    // A broken channel shows up as the process exiting; that is where it is handled.
    this.channel.on('error', () => undefined);
    this.relay(this.child.stdout!, 'info');
    this.relay(this.child.stderr!, 'warn');
    this.child.on('error', (error) => {
      this.failure ??= `could not start: ${error.message}`;
      if (this.child.pid === undefined) this.onExited(null, null);
    });
    this.child.on('exit', (code, signal) => this.onExited(code, signal));

    this.startupTimer = setTimeout(
      () => this.kill(`did not initialise within the startup timeout of ${options.startupTimeoutMs / 1000} s`),
      options.startupTimeoutMs,
    );
    writeFrame(this.channel, { type: 'init', init: options.init });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  info(restarts: number, gpuId: number | null): WorkerInfo {
    const info: WorkerInfo = { id: this.id, pid: this.pid, state: this.state, gpuId, startedAt: this.startedAt, restarts };
    if (this.rssBytes !== undefined) info.rssBytes = this.rssBytes;
    return info;
  }

  /** Marks an idle worker as taken for a batch being collected, so no one else dispatches to it. */
  reserve(): void {
    this.state = 'busy';
  }

  run(jobs: Job[]): void {
    this.state = 'busy';
    const now = performance.now();
    const payload = new PayloadBuilder();
    const sent: Job[] = [];
    const requests = [];
    for (const job of jobs) {
      job.dispatchedAt = now;
      try {
        requests.push(encodeRequest(job.request.input, payload, job.request.api === 'predictions'));
        sent.push(job);
      } catch (error) {
        job.reject(new BadRequest((error as Error).message));
      }
    }
    if (sent.length === 0) {
      queueMicrotask(() => this.finishBatch());
      return;
    }
    const id = this.nextBatchId++;
    const seconds = this.options.responseTimeoutMs / 1000;
    const timer = setTimeout(() => this.timeOut(seconds), this.options.responseTimeoutMs);
    this.batch = { id, jobs: sent, timer };
    writeFrame(this.channel, { type: 'batch', batchId: id, requests, segments: payload.segments }, payload);
  }

  /** Asks the worker to exit; an idle one goes at once, a busy one after its batch. */
  stop(): Promise<void> {
    this.retiring = true;
    if (this.state === 'dead') return this.exited;
    if (this.batch === undefined && this.state !== 'busy') this.sendStop();
    return this.exited;
  }

  /** Ends the worker now; whatever it held is answered as a failure naming `reason`. */
  kill(reason: string): void {
    if (this.state === 'dead') return;
    this.failure ??= reason;
    this.child.kill('SIGKILL');
  }

  private sendStop(): void {
    if (this.stopRequested) return;
    this.stopRequested = true;
    this.state = 'stopping';
    if (this.readyAt === undefined) {
      this.child.kill('SIGTERM');
    } else {
      writeFrame(this.channel, { type: 'stop' });
    }
    setTimeout(() => this.child.kill('SIGKILL'), STOP_GRACE_MS).unref();
  }

  private get model(): { model: string; version: string } {
    return { model: this.options.init.modelName, version: this.options.init.modelVersion };
  }

  private relay(stream: NodeJS.ReadableStream, level: 'info' | 'warn'): void {
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    lines.on('line', (line) => {
      if (level === 'warn') {
        this.stderrTail.push(line);
        if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
      }
      this.options.logger[level](line, { ...this.model, workerId: this.id, stream: level === 'warn' ? 'stderr' : 'stdout' });
    });
  }

  private timeOut(seconds: number): void {
    const batch = this.batch;
    if (batch === undefined) return;
    this.batch = undefined;
    for (const job of batch.jobs) job.reject(new HandlerTimeout(this.options.init.modelName, seconds));
    this.kill(`killed: a batch ran past the response timeout of ${seconds} s`);
  }

  private onFrame(frame: Frame<FromWorker>): void {
    const message = frame.header;
    switch (message.type) {
      case 'ready':
        clearTimeout(this.startupTimer);
        this.readyAt = performance.now();
        if (this.state === 'starting') this.state = 'ready';
        this.options.events.emit('worker.started', { ...this.model, workerId: this.id, pid: this.pid ?? -1 });
        this.settleReady.resolve(message.metadata);
        if (this.retiring) this.sendStop();
        else this.options.onIdle(this);
        return;
      case 'initFailed':
        this.failure ??= `its handler failed to initialise: ${message.error.message}`;
        this.options.logger.error(`worker ${this.id} failed to initialise: ${message.error.stack ?? message.error.message}`, { ...this.model, workerId: this.id });
        this.settleReady.reject(new ModelLoadFailed(`Model "${this.options.init.modelName}" failed to load: ${message.error.message}`));
        return;
      case 'results':
        this.onResults(frame, message.batchId, message.handlerMs, message.results);
        return;
      case 'batchFailed':
        this.onBatchFailed(message.batchId, message.handlerMs, message.error);
        return;
      case 'log':
        this.options.logger[message.level](message.message, { ...message.fields, ...this.model, workerId: this.id });
        return;
      case 'metric':
        this.options.events.emit('custom.metric', {
          ...this.model, kind: message.kind, name: message.name, value: message.value, labels: message.labels,
        });
        return;
      case 'memory':
        this.rssBytes = message.rssBytes;
        this.options.events.emit('worker.memory', { ...this.model, workerId: this.id, pid: this.pid ?? -1, rssBytes: message.rssBytes });
        return;
      case 'fatal':
        this.fatal = message.error;
        return;
    }
  }

  private takeBatch(batchId: number, handlerMs: number): RunningBatch | undefined {
    const batch = this.batch;
    // A batch already answered 504 may still report; its requests have their answer.
    if (batch === undefined || batch.id !== batchId) return undefined;
    clearTimeout(batch.timer);
    this.batch = undefined;
    this.options.events.emit('batch.finished', { ...this.model, size: batch.jobs.length, inferenceMs: handlerMs });
    return batch;
  }

  private onResults(frame: Frame<FromWorker>, batchId: number, handlerMs: number, results: WireResult[]): void {
    const batch = this.takeBatch(batchId, handlerMs);
    if (batch === undefined) return;
    batch.jobs.forEach((job, i) => {
      const result = results[i];
      const timings = { queueMs: (job.dispatchedAt ?? job.request.receivedAt) - job.request.receivedAt, inferenceMs: handlerMs };
      if (result === undefined) {
        job.reject(new InvalidHandlerOutput('the worker sent no result for this request'));
        return;
      }
      let outcome: InferenceOutcome;
      switch (result.kind) {
        case 'json':
          outcome = { ...timings, kind: 'json', body: segment(frame, result.seg) };
          break;
        case 'bytes':
          outcome = { ...timings, kind: 'bytes', body: segment(frame, result.seg), contentType: result.contentType };
          break;
        case 'tensors':
          outcome = { ...timings, kind: 'tensors', outputs: result.outputs.map((t) => decodeTensor(t, frame)) };
          if (result.parameters !== undefined) outcome.parameters = result.parameters;
          break;
        case 'error':
          job.reject(this.handlerFailed(result.error, [job.request.input.requestId]));
          return;
      }
      job.resolve(outcome);
    });
    this.finishBatch();
  }

  private onBatchFailed(batchId: number, handlerMs: number, error: WireError): void {
    const batch = this.takeBatch(batchId, handlerMs);
    if (batch === undefined) return;
    const failure = this.handlerFailed(error, batch.jobs.map((job) => job.request.input.requestId));
    for (const job of batch.jobs) job.reject(failure);
    this.finishBatch();
  }

  /** Reports the handler's full stack (for the log) and builds the error its clients get: message, code and status only. */
  private handlerFailed(error: WireError, requestIds: string[]): HandlerError {
    const failed = fromWireError(error);
    const event = { ...this.model, workerId: this.id, requestIds, code: failed.code, status: failed.status, message: failed.message };
    this.options.events.emit('handler.failed', error.stack === undefined ? event : { ...event, stack: error.stack });
    return failed;
  }

  private finishBatch(): void {
    if (this.state === 'dead') return;
    if (this.retiring) {
      this.sendStop();
      return;
    }
    this.state = 'ready';
    this.options.onIdle(this);
  }

  private exitReason(code: number | null, signal: NodeJS.Signals | null): string {
    const how = signal !== null ? `killed by ${signal}` : `exited with code ${code}`;
    if (this.failure !== undefined) return `${this.failure} (${how})`;
    if (this.stderrTail.some((line) => /heap out of memory|Allocation failed/i.test(line))) return `it ran out of memory (${how})`;
    if (this.fatal !== undefined) return `uncaught ${this.fatal.type}: ${this.fatal.message} (${how})`;
    // Errors Node reports itself before any of ours could run (a missing module, a bad flag) end up on stderr.
    const lastError = this.stderrTail.findLast((line) => /\b[A-Za-z]*Error\b/.test(line));
    return lastError === undefined ? how : `${how}: ${lastError.trim()}`;
  }

  private onExited(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.state === 'dead') return;
    const expected = this.stopRequested && this.failure === undefined;
    const reason = expected ? 'stopped' : this.exitReason(code, signal);
    this.state = 'dead';
    clearTimeout(this.startupTimer);
    const servedMs = this.readyAt === undefined ? undefined : performance.now() - this.readyAt;
    const batch = this.batch;
    this.batch = undefined;
    if (batch !== undefined) {
      clearTimeout(batch.timer);
      const died = new WorkerDied(this.options.init.modelName, reason);
      for (const job of batch.jobs) job.reject(died);
    }
    if (this.readyAt === undefined) {
      this.settleReady.reject(new ModelLoadFailed(`Model "${this.options.init.modelName}" failed to load: a worker ${reason}`));
    }
    this.channel.destroy();
    this.options.events.emit('worker.exited', { ...this.model, workerId: this.id, pid: this.pid ?? -1, expected, reason });
    this.options.onExit(this, { expected, reason, servedMs });
    this.markExited();
  }
}
