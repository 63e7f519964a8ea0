import type { Job } from './job.js';
import { BoundedQueue } from './job-queue.js';

export interface BatchingSettings {
  /** Most requests a handler receives at once. */
  batchSize: number;
  /** Milliseconds a worker waits, from the first request it took, to fill its batch. */
  maxBatchDelay: number;
  /** Most requests waiting for a worker (`job_queue_size`). */
  queueCapacity: number;
}

/** The workers a batcher feeds. */
export interface BatchSink<W> {
  /** Takes an idle worker out of the idle set for the next batch, or returns undefined if none is idle. */
  reserveIdle(): W | undefined;
  /** Hands a reserved worker its batch. */
  dispatch(worker: W, jobs: Job[]): void;
}

interface Collecting<W> {
  worker: W;
  jobs: Job[];
  timer: NodeJS.Timeout;
}

/**
 * Dynamic batching as MMS/TorchServe do it: idle workers pull from one bounded FIFO; a worker takes
 * what is waiting (up to `batchSize`) and, if its batch is not full, keeps collecting new arrivals for at
 * most `maxBatchDelay` ms counted from the moment it took its first request. At most one worker collects
 * at a time, and new arrivals go to it before the queue, so batches fill instead of splitting.
 */
export class Batcher<W> {
  private readonly queue: BoundedQueue<Job>;
  private collecting: Collecting<W> | undefined;
  /** Draining: send what is there without waiting for batches to fill. */
  private flushing = false;

  constructor(
    private readonly settings: BatchingSettings,
    private readonly sink: BatchSink<W>,
    private readonly onDepth: (depth: number) => void,
  ) {
    this.queue = new BoundedQueue<Job>(settings.queueCapacity);
  }

  /** Requests waiting for a worker. */
  get depth(): number {
    return this.queue.length;
  }

  /** Requests not yet handed to a handler: queued, or held by the collecting worker. */
  get pending(): number {
    return this.queue.length + (this.collecting?.jobs.length ?? 0);
  }

  get queueCapacity(): number {
    return this.queue.limit;
  }

  /** Accepts a job, or returns false at once when the queue is full. */
  submit(job: Job): boolean {
    const collecting = this.collecting;
    if (collecting !== undefined) {
      collecting.jobs.push(job);
      if (collecting.jobs.length >= this.settings.batchSize) this.sendCollected();
      return true;
    }
    if (!this.queue.push(job)) return false;
    this.onDepth(this.queue.length);
    this.pump();
    return true;
  }

  /** Gives waiting jobs to idle workers; call whenever a worker becomes idle. */
  pump(): void {
    while (this.collecting === undefined && this.queue.length > 0) {
      const worker = this.sink.reserveIdle();
      if (worker === undefined) return;
      const { batchSize, maxBatchDelay } = this.settings;
      const jobs = this.queue.take(batchSize);
      this.onDepth(this.queue.length);
      if (jobs.length >= batchSize || maxBatchDelay <= 0 || this.flushing) {
        this.sink.dispatch(worker, jobs);
      } else {
        this.collecting = { worker, jobs, timer: setTimeout(() => this.sendCollected(), maxBatchDelay) };
      }
    }
  }

  /** The collecting worker is gone before its batch was sent: its jobs go back to the head of the queue. */
  release(worker: W): void {
    const collecting = this.collecting;
    if (collecting === undefined || collecting.worker !== worker) return;
    clearTimeout(collecting.timer);
    this.collecting = undefined;
    this.queue.unshift(collecting.jobs);
    this.onDepth(this.queue.length);
    this.pump();
  }

  /** Stops waiting for batches to fill, from now on. */
  flush(): void {
    this.flushing = true;
    if (this.collecting !== undefined) this.sendCollected();
  }

  /**
   * Removes every queued job, for the caller to answer. A batch being collected is sent to its worker
   * instead: that worker is alive and will answer it.
   */
  takeQueued(): Job[] {
    if (this.collecting !== undefined) {
      const { worker, jobs, timer } = this.collecting;
      clearTimeout(timer);
      this.collecting = undefined;
      this.sink.dispatch(worker, jobs);
    }
    const jobs = this.queue.takeAll();
    this.onDepth(0);
    return jobs;
  }

  private sendCollected(): void {
    const collecting = this.collecting;
    if (collecting === undefined) return;
    clearTimeout(collecting.timer);
    this.collecting = undefined;
    this.sink.dispatch(collecting.worker, collecting.jobs);
    this.pump();
  }
}
