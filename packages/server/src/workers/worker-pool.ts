import { EventEmitter } from 'node:events';
import type { Logger, ModelDescription } from '@nodeserve/handler-sdk';
import type { WorkerExit, WorkerInfo, WorkerState } from './worker.js';

/** What the pool needs of a worker: `Worker` in the server. */
export interface PooledWorker {
  readonly id: string;
  readonly state: WorkerState;
  /** True once asked to stop. */
  readonly retiring: boolean;
  readonly ready: Promise<ModelDescription | undefined>;
  readonly exited: Promise<WorkerExit>;
  stop(): Promise<unknown>;
  info(restarts: number): WorkerInfo;
}

export interface WorkerPoolEvents {
  /** A worker initialised: the handler's description, if it gave one. */
  metadata: [metadata: ModelDescription | undefined];
  /** A worker failed to start while none is serving: requests already queued cannot be answered. */
  startFailed: [error: Error];
  /** A worker became ready, failed to start or exited: the pool's counts may have changed. */
  change: [];
}

/** Restart back-off, in milliseconds: 0.1 s doubling to 10 s, back to 0.1 s once a worker has served for a minute. */
export interface Backoff {
  firstMs: number;
  maxMs: number;
  healthyAfterMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { firstMs: 100, maxMs: 10_000, healthyAfterMs: 60_000 };

export interface WorkerPoolOptions<W extends PooledWorker> {
  model: string;
  version: string;
  logger: Logger;
  /** Starts the worker for a slot; the slot number picks its GPU and stays the same across restarts. */
  spawn(slot: number): W;
  backoff?: Backoff;
}

interface Slot<W> {
  index: number;
  worker: W | undefined;
  restarts: number;
  /** Consecutive failures, for the back-off. */
  failures: number;
  restartTimer: NodeJS.Timeout | undefined;
}

/**
 * A model version's worker slots (TorchServe's `WorkLoadManager`): keeps `target` workers alive,
 * replacing any that die with back-off, and grows and shrinks live (a busy worker that is no longer
 * wanted finishes its batch first). The workers pull their batches themselves; the pool only reports
 * what its owner needs to know, as events.
 */
export class WorkerPool<W extends PooledWorker> extends EventEmitter<WorkerPoolEvents> {
  private slots: Slot<W>[] = [];
  /** Workers of removed slots still finishing their batch. */
  private readonly retiring = new Set<W>();
  private stopped = false;
  private lastStartError: Error | undefined;
  private readonly backoff: Backoff;

  constructor(private readonly options: WorkerPoolOptions<W>) {
    super();
    this.setMaxListeners(0);
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
  }

  get target(): number {
    return this.slots.length;
  }

  /** Workers initialised and serving (idle or busy). */
  get live(): number {
    return this.slots.filter((s) => s.worker !== undefined && (s.worker.state === 'ready' || s.worker.state === 'busy')).length;
  }

  /** Slots whose worker died and whose replacement waits out its back-off. */
  get restarting(): number {
    if (this.stopped) return 0;
    return this.slots.filter((s) => s.restartTimer !== undefined).length;
  }

  /** Workers running or collecting a batch, retiring ones included. */
  get busy(): number {
    let n = 0;
    for (const w of this.all()) if (w.state === 'busy') n++;
    return n;
  }

  workers(): WorkerInfo[] {
    const infos = this.slots.flatMap((slot) => (slot.worker === undefined ? [] : [slot.worker.info(slot.restarts)]));
    for (const w of this.retiring) infos.push(w.info(0));
    return infos;
  }

  /** Sets the number of workers. Resolves at once, or with `synchronous` once that many serve (or the extra ones exited). */
  async resize(count: number, synchronous: boolean): Promise<void> {
    if (this.stopped) return;
    this.lastStartError = undefined;
    while (this.slots.length < count) {
      const slot: Slot<W> = { index: this.freeIndex(), worker: undefined, restarts: 0, failures: 0, restartTimer: undefined };
      this.slots.push(slot);
      this.start(slot);
    }
    const removed = this.leastNeeded(this.slots.length - count);
    this.slots = this.slots.filter((slot) => !removed.includes(slot));
    const leaving: Promise<unknown>[] = [];
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

  /** Resolves when `check` returns true, now or after some change in the pool; `check` may throw to give up. */
  private waitFor(check: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const onChange = (): void => {
        try {
          if (!check()) return;
          this.off('change', onChange);
          resolve();
        } catch (error) {
          this.off('change', onChange);
          reject(error as Error);
        }
      };
      this.on('change', onChange);
      onChange();
    });
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
  private leastNeeded(n: number): Slot<W>[] {
    if (n <= 0) return [];
    const rank = (slot: Slot<W>): number => {
      const state = slot.worker?.state;
      if (state === undefined || state === 'dead' || state === 'stopping') return 0;
      if (state === 'starting') return 1;
      if (state === 'ready') return 2;
      return 3;
    };
    return [...this.slots].sort((a, b) => rank(a) - rank(b) || b.index - a.index).slice(0, n);
  }

  private *all(): Iterable<W> {
    for (const slot of this.slots) if (slot.worker !== undefined) yield slot.worker;
    yield* this.retiring;
  }

  private start(slot: Slot<W>): void {
    slot.restartTimer = undefined;
    if (this.stopped || !this.slots.includes(slot)) return;
    const worker = this.options.spawn(slot.index);
    slot.worker = worker;
    worker.ready.then(
      (metadata) => {
        this.emit('metadata', metadata);
        this.emit('change');
      },
      (error: Error) => {
        // A worker stopped while starting (scaled away, shutting down) did not fail.
        if (!worker.retiring) {
          this.lastStartError = error;
          if (this.live === 0) this.emit('startFailed', error);
        }
        this.emit('change');
      },
    );
    void worker.exited.then((exit) => this.onExit(slot, worker, exit));
  }

  private onExit(slot: Slot<W>, worker: W, exit: WorkerExit): void {
    this.retiring.delete(worker);
    if (slot.worker === worker) slot.worker = undefined;
    const wanted = !this.stopped && this.slots.includes(slot);
    if (wanted) {
      const { firstMs, maxMs, healthyAfterMs } = this.backoff;
      if (exit.servedMs !== undefined && exit.servedMs >= healthyAfterMs) slot.failures = 0;
      const delay = Math.min(firstMs * 2 ** slot.failures, maxMs);
      slot.failures++;
      slot.restarts++;
      this.options.logger.warn(`replacing worker ${worker.id} in ${delay} ms`, {
        model: this.options.model, version: this.options.version, workerId: worker.id, reason: exit.reason,
      });
      slot.restartTimer = setTimeout(() => this.start(slot), delay);
    }
    this.emit('change');
  }
}
