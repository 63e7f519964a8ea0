import { BoundedQueue } from './bounded-queue.js';
import type { Job, LostBatchCause } from './job.js';

export interface BatchingSettings {
  /** Most requests a handler receives at once. */
  batchSize: number;
  /** Milliseconds a worker waits, from the first request it took, to fill its batch. */
  maxBatchDelay: number;
  /** Most requests waiting for a worker (`job_queue_size`). */
  queueCapacity: number;
  /**
   * Whether the requests of a batch its worker lost are tried once more, each alone
   * (`retryOnWorkerFailure`); off for handlers that must not run a request twice.
   */
  retryOnWorkerFailure: boolean;
}

/** What the batcher reports as it runs. */
export interface BatcherObserver {
  /** The queue's length, each time it changes (the `queue.depth` event). */
  depth(depth: number): void;
  /** A job of a lost batch went back to the queue, to run again alone. */
  retried(job: Job, cause: LostBatchCause): void;
  /** A job already retried lost its worker again: it is answered with that failure and never tried again. */
  retryFailed(job: Job, cause: LostBatchCause): void;
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
  /** Takes back jobs a worker was handed but never sent to its handler (its process was gone): untried, at the head of the queue. */
  giveBack(jobs: readonly Job[]): void;
  /**
   * Takes back the batch a worker lost while running it (its process died, or was killed past the
   * response timeout) and answers each job exactly once: by queueing it again to run alone on another
   * worker, or with `failure(job)`. See `Batcher.lost` for which.
   */
  lost(jobs: readonly Job[], cause: LostBatchCause, failure: (job: Job) => Error): void;
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
 *
 * A batch whose worker is lost comes back through `lost`: its jobs are tried once more, at the head
 * of the queue, each in a batch of its own and without waiting for a batch to fill, so a request that
 * kills or hangs its worker takes no batch-mate down the second time and is answered alone.
 */
export class Batcher implements BatchSource {
  private readonly queue: BoundedQueue<Job>;
  /** Claims of idle workers, longest idle first. */
  private readonly idle: Claim[] = [];
  private collecting: Claim | undefined;
  /** Draining: send what is there without waiting for batches to fill. */
  private flushing = false;

  constructor(
    private readonly settings: BatchingSettings,
    private readonly observer: BatcherObserver,
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

  /**
   * Changes the batch size and delay for batches formed from now on. A batch being collected is sent
   * at once if it is already full by the new size or the new delay is 0; otherwise it keeps its timer.
   */
  setBatching(batchSize: number, maxBatchDelay: number): void {
    this.settings.batchSize = batchSize;
    this.settings.maxBatchDelay = maxBatchDelay;
    const gathered = this.collecting?.gathered;
    if (gathered !== undefined && (gathered.length >= batchSize || maxBatchDelay <= 0)) this.answerCollecting();
    this.pump();
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
    this.observer.depth(this.queue.length);
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
    this.requeue(jobs);
  }

  giveBack(jobs: readonly Job[]): void {
    this.requeue(jobs);
  }

  /**
   * Each job of the lost batch is queued again, at the head and past capacity (it was accepted
   * once), to run alone — unless retries are off, or it was already retried (at most two attempts: a
   * request that ends a second worker, alone, is the cause and is answered), or it timed out alone (it
   * was the cause; trying again would hold another worker as long), or it timed out while draining (a
   * second full response timeout could outlive the drain). Those are answered `failure(job)`.
   */
  lost(jobs: readonly Job[], cause: LostBatchCause, failure: (job: Job) => Error): void {
    const again: Job[] = [];
    for (const job of jobs) {
      if (this.triesAgain(job, cause, jobs.length)) {
        job.retried = { cause };
        again.push(job);
        this.observer.retried(job, cause);
      } else {
        if (job.retried !== undefined) this.observer.retryFailed(job, cause);
        job.reject(failure(job));
      }
    }
    if (again.length > 0) this.requeue(again);
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
    this.observer.depth(0);
    return jobs;
  }

  private triesAgain(job: Job, cause: LostBatchCause, batchLength: number): boolean {
    if (!this.settings.retryOnWorkerFailure || job.retried !== undefined) return false;
    return cause === 'died' || (batchLength > 1 && !this.flushing);
  }

  /** Puts jobs back at the head of the queue, in order, past its capacity: they were accepted once. */
  private requeue(jobs: readonly Job[]): void {
    if (jobs.length === 0) return;
    this.queue.unshift(jobs);
    this.observer.depth(this.queue.length);
    this.pump();
  }

  /**
   * Gives waiting jobs to idle workers' claims while no batch is being collected; a retried job at
   * the head goes alone and at once, even while another worker collects (it is not part of that batch).
   */
  private pump(): void {
    while (this.queue.length > 0 && this.idle.length > 0) {
      const alone = this.queue.peek()!.retried !== undefined;
      if (this.collecting !== undefined && !alone) return;
      const claim = this.idle.shift()!;
      const { batchSize, maxBatchDelay } = this.settings;
      const jobs = this.queue.take(alone ? 1 : this.batchable(batchSize));
      this.observer.depth(this.queue.length);
      if (alone || jobs.length >= batchSize || maxBatchDelay <= 0 || this.flushing) {
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

  /** How many jobs from the head make the next batch: up to `batchSize`, stopping before a retried job (it runs alone). */
  private batchable(batchSize: number): number {
    const most = Math.min(batchSize, this.queue.length);
    let n = 1;
    while (n < most && this.queue.peek(n)!.retried === undefined) n++;
    return n;
  }

  /** Sends the batch being collected as it is. */
  private answerCollecting(): void {
    const claim = this.collecting;
    if (claim === undefined) return;
    this.collecting = undefined;
    claim.answer(claim.gathered);
  }
}
