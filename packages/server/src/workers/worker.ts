import type { Logger, ModelDescription } from '@nodeserve/handler-sdk';
import { performance } from 'node:perf_hooks';
import type { BatchClaim, BatchSource } from '../batching/batcher.js';
import type { ServerEvents } from '../events.js';
import type { WorkerInit } from './protocol.js';
import { WorkerChannel } from './worker-channel.js';
import { type ProcessExit, WorkerLifeCycle } from './worker-life-cycle.js';

/** `busy` covers both running a batch and collecting one. */
export type WorkerState = 'starting' | 'ready' | 'busy' | 'stopping' | 'dead';

/** A worker as the management API describes it. */
export interface WorkerInfo {
  id: string;
  pid: number | undefined;
  state: WorkerState;
  gpuId: number | null;
  /** ISO 8601 time the process was started. */
  startedAt: string;
  /** Times its slot's worker was replaced after dying. */
  restarts: number;
  /** Resident memory in bytes, as last reported by the worker. */
  rssBytes?: number;
}

export interface WorkerExit extends ProcessExit {
  /** Milliseconds the worker was serving, or undefined if it never became ready. */
  servedMs: number | undefined;
}

export interface WorkerOptions {
  id: string;
  /** Path of the built worker entry (`worker-main.js`). */
  workerMain: string;
  /** Node options for the worker, e.g. a heap limit. */
  execArgv: string[];
  /** The worker process's environment; the server's own when absent. */
  env?: NodeJS.ProcessEnv;
  init: WorkerInit;
  startupTimeoutMs: number;
  responseTimeoutMs: number;
  logger: Logger;
  events: ServerEvents;
  /** Where the worker pulls its batches from once it has initialised. */
  source: BatchSource;
}

/**
 * One model worker (TorchServe's `WorkerThread`): once its process has initialised the handler, it
 * claims a batch from its source, runs it over the channel, and claims again, until it is stopped or
 * its process dies. Its process is a `WorkerLifeCycle`, its I/O a `WorkerChannel`. A worker that
 * leaves while idle withdraws its claim; one that dies while collecting, or before it could send the
 * batch it was handed, hands the batch back untried; a batch it loses while running goes back to the
 * source's `lost`, which retries or answers it.
 */
export class Worker {
  readonly id: string;
  readonly startedAt = new Date().toISOString();
  /** Resolves with the handler's description once initialised; rejects with `ModelLoadFailed`. */
  readonly ready: Promise<ModelDescription | undefined>;
  /** Resolves once, when the process has exited and everything it held has been answered. */
  readonly exited: Promise<WorkerExit>;

  /** Where the worker is in its life; while `serving`, `state` tells idle from busy. */
  private phase: 'starting' | 'serving' | 'stopping' | 'dead' = 'starting';
  private stopRequested = false;
  private claim: BatchClaim | undefined;
  private readonly life: WorkerLifeCycle;
  private readonly channel: WorkerChannel;

  constructor(private readonly options: WorkerOptions) {
    this.id = options.id;
    const { logger, events, init } = options;
    this.life = new WorkerLifeCycle({
      workerMain: options.workerMain,
      execArgv: options.execArgv,
      ...(options.env === undefined ? {} : { env: options.env }),
      logger,
      logFields: { ...this.model, workerId: this.id },
    });
    this.channel = new WorkerChannel(this.life, {
      workerId: this.id,
      init,
      startupTimeoutMs: options.startupTimeoutMs,
      responseTimeoutMs: options.responseTimeoutMs,
      logger,
      events,
      lost: (jobs, cause, failure) => options.source.lost(jobs, cause, failure),
    });
    this.ready = this.channel.ready.then((metadata) => {
      this.onReady();
      return metadata;
    });
    // Callers that only care about exits must not see an unhandled rejection.
    this.ready.catch(() => undefined);
    this.exited = this.life.exited.then((exit) => this.onExit(exit));
  }

  get pid(): number | undefined {
    return this.life.pid;
  }

  /** The handler's `maxBatchSize` export, once ready (`HandlerModule.maxBatchSize`); undefined when it has none. */
  get maxBatchSize(): number | undefined {
    return this.channel.maxBatchSize;
  }

  get state(): WorkerState {
    if (this.phase !== 'serving') return this.phase;
    return this.channel.running || this.claim?.committed === true ? 'busy' : 'ready';
  }

  /** Set once the worker is asked to stop: it takes no new batch. */
  get retiring(): boolean {
    return this.stopRequested;
  }

  get gpuId(): number | null {
    return this.options.init.gpuId;
  }

  info(restarts: number): WorkerInfo {
    const info: WorkerInfo = { id: this.id, pid: this.pid, state: this.state, gpuId: this.gpuId, startedAt: this.startedAt, restarts };
    if (this.channel.rssBytes !== undefined) info.rssBytes = this.channel.rssBytes;
    return info;
  }

  /** Asks the worker to exit: a starting or idle one goes at once, a busy one after its batch. */
  stop(): Promise<WorkerExit> {
    this.stopRequested = true;
    if (this.phase === 'starting') this.shutDown();
    else if (this.claim !== undefined && !this.claim.committed) this.options.source.release(this.claim);
    return this.exited;
  }

  private get model(): { model: string; version: string } {
    return { model: this.options.init.modelName, version: this.options.init.modelVersion };
  }

  private onReady(): void {
    this.options.events.emit('worker.started', { ...this.model, workerId: this.id, pid: this.pid ?? -1 });
    if (this.phase !== 'starting') return;
    this.phase = 'serving';
    if (this.stopRequested) {
      this.shutDown();
      return;
    }
    this.serve().catch((error: unknown) => this.life.kill(`its batch loop failed: ${(error as Error).message}`));
  }

  /** The request loop: claim a batch, run it, repeat until stopped or dead. */
  private async serve(): Promise<void> {
    while (!this.stopRequested) {
      const claim = this.options.source.claim();
      this.claim = claim;
      const jobs = await claim.jobs;
      this.claim = undefined;
      // Released: the worker is stopping or its process is gone.
      if (jobs === undefined) break;
      // Handed over just as the process exited: another worker runs them, untried.
      if (this.phase !== 'serving') {
        this.options.source.giveBack(jobs);
        return;
      }
      await this.channel.run(jobs);
      if (this.phase !== 'serving') return;
    }
    this.shutDown();
  }

  /** Ends the process gently: a stop message once it can read one, else SIGTERM. */
  private shutDown(): void {
    if (this.phase === 'dead' || this.phase === 'stopping') return;
    this.phase = 'stopping';
    this.life.stop(this.channel.readyAt === undefined ? undefined : () => this.channel.sendStop());
  }

  private onExit(exit: ProcessExit): WorkerExit {
    this.phase = 'dead';
    this.channel.close(exit.reason);
    if (this.claim !== undefined) this.options.source.release(this.claim);
    const { readyAt } = this.channel;
    this.options.events.emit('worker.exited', { ...this.model, workerId: this.id, pid: this.pid ?? -1, ...exit });
    return { ...exit, servedMs: readyAt === undefined ? undefined : performance.now() - readyAt };
  }
}
