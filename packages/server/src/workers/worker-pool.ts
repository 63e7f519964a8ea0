import { EventEmitter } from 'node:events';
import type { Logger } from '@nodeserve/handler-sdk';
import type { BatchSink } from '../batching/batcher.js';
import type { Job } from '../batching/job.js';
import type { ModelMetadata, WorkerInfo } from '../models/types.js';
import type { WorkerExit, WorkerProcess } from './worker-process.js';

/** Restart back-off: 0.1 s doubling to 10 s, back to 0.1 s once a worker has served for a minute. */
const BACKOFF_FIRST_MS = 100;
const BACKOFF_MAX_MS = 10_000;
const HEALTHY_AFTER_MS = 60_000;

export interface WorkerPoolOptions {
  model: string;
  version: string;
  logger: Logger;
  /** Starts the worker process for a slot (a slot keeps its GPU across restarts). */
  spawn(slot: number, callbacks: Pick<WorkerCallbacks, 'onIdle' | 'onExit'>): WorkerProcess;
  gpuFor(slot: number): number | null;
  /** A worker became idle: the batcher may give it work. */
  onIdle(): void;
  /** A worker that was collecting a batch is gone. */
  onLost(worker: WorkerProcess): void;
  /** A worker failed to start while no worker is serving: queued requests cannot be answered. */
  onStartFailed(error: Error): void;
  /** The first worker to initialise describes the model. */
  onMetadata(metadata: ModelMetadata | undefined): void;
}

interface WorkerCallbacks {
  onIdle(worker: WorkerProcess): void;
  onExit(worker: WorkerProcess, exit: WorkerExit): void;
}

interface Slot {
  index: number;
  worker: WorkerProcess | undefined;
  restarts: number;
  /** Consecutive failures, for the back-off. */
  failures: number;
  restartTimer: NodeJS.Timeout | undefined;
}

/**
 * A model version's worker processes: keeps `target` of them alive, replacing any that die with
 * back-off, grows and shrinks live (a busy worker that is no longer wanted finishes its batch first),
 * and lends idle workers to the batcher, longest idle first.
 */
export class WorkerPool implements BatchSink<WorkerProcess> {
  private slots: Slot[] = [];
  /** Workers of removed slots still finishing their batch. */
  private readonly retiring = new Set<WorkerProcess>();
  private readonly idle: WorkerProcess[] = [];
  private readonly changes = new EventEmitter();
  private stopped = false;
  private lastStartError: Error | undefined;

  constructor(private readonly options: WorkerPoolOptions) {
    this.changes.setMaxListeners(0);
  }

  get target(): number {
    return this.slots.length;
  }

  /** Workers initialised and serving (idle or busy). */
  get live(): number {
    return this.slots.filter((s) => s.worker !== undefined && (s.worker.state === 'ready' || s.worker.state === 'busy')).length;
  }

  /** Workers running or collecting a batch, retiring ones included. */
  get busy(): number {
    let n = 0;
    for (const w of this.all()) if (w.state === 'busy') n++;
    return n;
  }

  workers(): WorkerInfo[] {
    const infos = this.slots.flatMap((slot) =>
      slot.worker === undefined ? [] : [slot.worker.info(slot.restarts, this.options.gpuFor(slot.index))]);
    for (const w of this.retiring) infos.push(w.info(0, null));
    return infos;
  }

  reserveIdle(): WorkerProcess | undefined {
    while (this.idle.length > 0) {
      const worker = this.idle.shift()!;
      if (worker.state === 'ready' && !worker.retiring) {
        worker.reserve();
        return worker;
      }
    }
    return undefined;
  }

  dispatch(worker: WorkerProcess, jobs: Job[]): void {
    worker.run(jobs);
  }

  /** Sets the number of workers. Resolves at once, or with `synchronous` once that many serve (or the extra ones exited). */
  async resize(count: number, synchronous: boolean): Promise<void> {
    if (this.stopped) return;
    this.lastStartError = undefined;
    while (this.slots.length < count) {
      const slot: Slot = { index: this.freeIndex(), worker: undefined, restarts: 0, failures: 0, restartTimer: undefined };
      this.slots.push(slot);
      this.start(slot);
    }
    const removed = this.leastNeeded(this.slots.length - count);
    this.slots = this.slots.filter((slot) => !removed.includes(slot));
    const leaving: Promise<void>[] = [];
    for (const slot of removed) {
      clearTimeout(slot.restartTimer);
      if (slot.worker !== undefined) {
        this.retiring.add(slot.worker);
        leaving.push(slot.worker.stop());
      }
    }
    if (!synchronous) return;
    await Promise.all(leaving);
    // A later resize replaces this one's goal: wait for whatever the pool is now asked to be.
    await this.waitFor(() => {
      if (this.stopped || this.live >= this.slots.length) return true;
      if (this.lastStartError !== undefined) throw this.lastStartError;
      return false;
    });
  }

  /** Stops every worker (busy ones after their batch) and restarts none. */
  async stop(): Promise<void> {
    this.stopped = true;
    const all = [...this.all()];
    for (const slot of this.slots) clearTimeout(slot.restartTimer);
    await Promise.all(all.map((w) => w.stop()));
  }

  /** Resolves when `check` returns true after some change in the pool; `check` may throw to give up. */
  waitFor(check: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const onChange = (): void => {
        try {
          if (!check()) return;
          this.changes.off('change', onChange);
          resolve();
        } catch (error) {
          this.changes.off('change', onChange);
          reject(error as Error);
        }
      };
      this.changes.on('change', onChange);
      onChange();
    });
  }

  /** Lets waiters re-check their condition (called by the model version when requests settle). */
  notify(): void {
    this.changes.emit('change');
  }

  /** The lowest slot number not in use: it picks the GPU, so the pool keeps spreading over the first devices. */
  private freeIndex(): number {
    const used = new Set(this.slots.map((slot) => slot.index));
    let index = 0;
    while (used.has(index)) index++;
    return index;
  }

  /**
   * The `n` slots to give up when shrinking: those with no serving worker first (restarting, then
   * starting), then idle ones, busy ones last, so a scale-down interrupts as little work as it can;
   * higher slot numbers first among equals.
   */
  private leastNeeded(n: number): Slot[] {
    if (n <= 0) return [];
    const rank = (slot: Slot): number => {
      const state = slot.worker?.state;
      if (state === undefined || state === 'dead' || state === 'stopping') return 0;
      if (state === 'starting') return 1;
      if (state === 'ready') return 2;
      return 3;
    };
    return [...this.slots].sort((a, b) => rank(a) - rank(b) || b.index - a.index).slice(0, n);
  }

  private *all(): Iterable<WorkerProcess> {
    for (const slot of this.slots) if (slot.worker !== undefined) yield slot.worker;
    yield* this.retiring;
  }

  private start(slot: Slot): void {
    slot.restartTimer = undefined;
    if (this.stopped || !this.slots.includes(slot)) return;
    const worker = this.options.spawn(slot.index, {
      onIdle: (w) => {
        this.idle.push(w);
        this.options.onIdle();
        this.notify();
      },
      onExit: (w, exit) => this.onExit(slot, w, exit),
    });
    slot.worker = worker;
    worker.ready.then(
      (metadata) => {
        this.options.onMetadata(metadata);
        this.notify();
      },
      (error: Error) => {
        // A worker stopped while starting (scaled away, shutting down) did not fail.
        if (worker.retiring) {
          this.notify();
          return;
        }
        this.lastStartError = error;
        if (this.live === 0) this.options.onStartFailed(error);
        this.notify();
      },
    );
  }

  private onExit(slot: Slot, worker: WorkerProcess, exit: WorkerExit): void {
    const at = this.idle.indexOf(worker);
    if (at >= 0) this.idle.splice(at, 1);
    this.retiring.delete(worker);
    this.options.onLost(worker);
    if (slot.worker === worker) slot.worker = undefined;
    const wanted = !this.stopped && this.slots.includes(slot);
    if (wanted) {
      if (exit.servedMs !== undefined && exit.servedMs >= HEALTHY_AFTER_MS) slot.failures = 0;
      const delay = Math.min(BACKOFF_FIRST_MS * 2 ** slot.failures, BACKOFF_MAX_MS);
      slot.failures++;
      slot.restarts++;
      this.options.logger.warn(`replacing worker ${worker.id} in ${delay} ms`, {
        model: this.options.model, version: this.options.version, workerId: worker.id, reason: exit.reason,
      });
      slot.restartTimer = setTimeout(() => this.start(slot), delay);
    }
    this.notify();
  }
}
