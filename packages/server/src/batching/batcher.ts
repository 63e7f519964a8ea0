import { BoundedQueue } from './bounded-queue.js';
import type { Job } from './job.js';

export interface BatchingSettings {
  /** Most requests a handler receives at once. */
  batchSize: number;
  /** Milliseconds a worker waits, from the first request it took, to fill its batch. */
  maxBatchDelay: number;
  /** Most requests waiting for a worker (`job_queue_size`). */
  queueCapacity: number;
}

/** An idle worker's wait for its next batch. */
export interface BatchClaim {
  /**
   * Resolves with the batch (1 to `batchSize` jobs) once it is full, its delay has passed or the
   * batcher flushes; with `undefined` once the claim is released.
   */
  readonly jobs: Promise<Job[] | undefined>;
  /** True once jobs are gathered for this claim or handed to it: its worker is committed to that batch. */
  readonly committed: boolean;
}

/** Where workers pull their batches from (TorchServe's `BatchAggregator`, seen from a `WorkerThread`). */
export interface BatchSource {
  /** Queues a claim behind those of workers idle for longer. */
  claim(): BatchClaim;
  /**
   * Withdraws a claim whose worker is leaving. Jobs gathered for it go back to the head of the queue,
   * in order, for the next claim; a claim already answered is left alone.
   */
  release(claim: BatchClaim): void;
}

class Claim implements BatchClaim {
  readonly jobs: Promise<Job[] | undefined>;
  /** Jobs gathered so far, while this claim is the one collecting. */
  gathered: Job[] | undefined;
  timer: NodeJS.Timeout | undefined;
  private delivered = false;
  private settle!: (jobs: Job[] | undefined) => void;

  constructor() {
    this.jobs = new Promise((resolve) => (this.settle = resolve));
  }

  get committed(): boolean {
    return this.gathered !== undefined || this.delivered;
  }

  answer(jobs: Job[] | undefined): void {
    clearTimeout(this.timer);
    this.gathered = undefined;
    this.delivered = jobs !== undefined;
    this.settle(jobs);
  }
}

/**
 * Dynamic batching as MMS/TorchServe do it: idle workers pull from one bounded FIFO, longest idle
 * first; a worker takes what is waiting (up to `batchSize`) and, if its batch is not full, keeps
 * collecting new arrivals for at most `maxBatchDelay` ms counted from the moment it took its first
 * request. At most one worker collects at a time, and new arrivals go to it before the queue, so
 * batches fill instead of splitting.
 */
export class Batcher implements BatchSource {
  private readonly queue: BoundedQueue<Job>;
  /** Claims of idle workers, longest idle first. */
  private readonly idle: Claim[] = [];
  private collecting: Claim | undefined;
  /** Draining: send what is there without waiting for batches to fill. */
  private flushing = false;

  /** `onDepth` hears the queue's length each time it changes (the `queue.depth` event). */
  constructor(
    private readonly settings: BatchingSettings,
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
    return this.queue.length + (this.collecting?.gathered?.length ?? 0);
  }

  get queueCapacity(): number {
    return this.queue.limit;
  }

  /** Accepts a job, or returns false at once when the queue is full. */
  submit(job: Job): boolean {
    const gathered = this.collecting?.gathered;
    if (gathered !== undefined) {
      gathered.push(job);
      if (gathered.length >= this.settings.batchSize) this.answerCollecting();
      return true;
    }
    if (!this.queue.push(job)) return false;
    this.onDepth(this.queue.length);
    this.pump();
    return true;
  }

  claim(): BatchClaim {
    const claim = new Claim();
    this.idle.push(claim);
    this.pump();
    return claim;
  }

  release(claim: BatchClaim): void {
    const at = this.idle.indexOf(claim as Claim);
    if (at >= 0) {
      this.idle.splice(at, 1);
      (claim as Claim).answer(undefined);
      return;
    }
    if (this.collecting !== claim) return;
    const jobs = this.collecting.gathered ?? [];
    this.collecting = undefined;
    (claim as Claim).answer(undefined);
    this.queue.unshift(jobs);
    this.onDepth(this.queue.length);
    this.pump();
  }

  /** Stops waiting for batches to fill, from now on. */
  flush(): void {
    this.flushing = true;
    this.answerCollecting();
    this.pump();
  }

  /**
   * Removes every queued job, for the caller to answer. A batch being collected is sent to its worker
   * instead: that worker is alive and will answer it.
   */
  takeQueued(): Job[] {
    this.answerCollecting();
    const jobs = this.queue.takeAll();
    this.onDepth(0);
    return jobs;
  }

  /** Gives waiting jobs to idle workers' claims while no batch is being collected. */
  private pump(): void {
    while (this.collecting === undefined && this.queue.length > 0 && this.idle.length > 0) {
      const claim = this.idle.shift()!;
      const { batchSize, maxBatchDelay } = this.settings;
      const jobs = this.queue.take(batchSize);
      this.onDepth(this.queue.length);
      if (jobs.length >= batchSize || maxBatchDelay <= 0 || this.flushing) {
        claim.answer(jobs);
      } else {
        claim.gathered = jobs;
        claim.timer = setTimeout(() => {
          this.answerCollecting();
          this.pump();
        }, maxBatchDelay);
        this.collecting = claim;
      }
    }
  }

  /** Sends the batch being collected as it is. */
  private answerCollecting(): void {
    const claim = this.collecting;
    if (claim === undefined) return;
    this.collecting = undefined;
    claim.answer(claim.gathered);
  }
}
