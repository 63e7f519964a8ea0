import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { type BatchClaim, type BatchingSettings, Batcher } from '../../src/batching/batcher.js';
import type { Job, LostBatchCause } from '../../src/batching/job.js';

/** Jobs the batcher answered itself (a lost batch's jobs it does not try again), by name, with the error's message. */
const answered: Array<[string, string]> = [];

/** A job named for the test; the batcher moves jobs, and answers only those of a lost batch it gives up on. */
function job(name: string): Job {
  const body = Buffer.from(name);
  return {
    request: { api: 'predictions', receivedAt: 0, input: { requestId: name, body, data: body, form: {}, headers: {}, query: {} } },
    resolve: () => answered.push([name, 'resolved']),
    reject: (error) => answered.push([name, error.message]),
  };
}

const failure = (job: Job): Error => new Error(`lost ${job.request.input.requestId}`);

const names = (jobs: readonly Job[] | undefined): string[] | undefined => jobs?.map((j) => j.request.input.requestId);

/**
 * An in-memory worker: each `idle()` claims one batch from the batcher, as a worker process's loop
 * does; what the claim is answered with is recorded, `released` when it was withdrawn.
 */
class InMemoryWorker {
  readonly answers: Array<string[] | 'released'> = [];
  claim: BatchClaim | undefined;

  constructor(private readonly batcher: Batcher) {}

  idle(): this {
    const claim = this.batcher.claim();
    this.claim = claim;
    void claim.jobs.then((jobs) => this.answers.push(names(jobs) ?? 'released'));
    return this;
  }

  leave(): void {
    this.batcher.release(this.claim!);
  }
}

/** Lets the claims' promise callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await Promise.resolve();
}

interface Setup {
  batcher: Batcher;
  depths: number[];
  /** `retried a died`, `retryFailed a timeout`…, in order. */
  retries: string[];
  worker(): InMemoryWorker;
}

function setup(settings: Partial<BatchingSettings> = {}): Setup {
  const depths: number[] = [];
  const retries: string[] = [];
  const report = (what: string) => (j: Job, cause: LostBatchCause) => retries.push(`${what} ${j.request.input.requestId} ${cause}`);
  const batcher = new Batcher(
    { batchSize: 1, maxBatchDelay: 0, queueCapacity: 100, retryOnWorkerFailure: true, ...settings },
    { depth: (depth) => depths.push(depth), retried: report('retried'), retryFailed: report('retryFailed') },
  );
  return { batcher, depths, retries, worker: () => new InMemoryWorker(batcher) };
}

describe('Batcher', () => {
  afterEach(() => {
    jest.useRealTimers();
    answered.length = 0;
  });

  it('hands a job to an idle worker at once, and queues jobs while no worker is idle', async () => {
    const { batcher, depths, worker } = setup();
    const w = worker().idle();
    expect(batcher.submit(job('a'))).toBe(true);
    expect(batcher.submit(job('b'))).toBe(true);
    await settle();
    expect(w.answers).toEqual([['a']]);
    expect(batcher.depth).toBe(1);
    w.idle();
    await settle();
    expect(w.answers).toEqual([['a'], ['b']]);
    expect(batcher.depth).toBe(0);
    expect(depths).toEqual([1, 0, 1, 0]);
  });

  it('serves idle workers longest idle first', async () => {
    const { batcher, worker } = setup();
    const first = worker().idle();
    const second = worker().idle();
    const third = worker().idle();
    batcher.submit(job('a'));
    batcher.submit(job('b'));
    await settle();
    expect([first.answers, second.answers, third.answers]).toEqual([[['a']], [['b']], []]);
  });

  it('gives a worker what is waiting, up to batch_size, in arrival order', async () => {
    const { batcher, worker } = setup({ batchSize: 3, maxBatchDelay: 1000 });
    for (const name of ['a', 'b', 'c', 'd']) batcher.submit(job(name));
    const w = worker().idle();
    await settle();
    expect(w.answers).toEqual([['a', 'b', 'c']]);
    expect(batcher.depth).toBe(1);
  });

  it('fills a partial batch with new arrivals and sends it the moment it is full', async () => {
    jest.useFakeTimers();
    const { batcher, worker } = setup({ batchSize: 3, maxBatchDelay: 1000 });
    const w = worker().idle();
    batcher.submit(job('a'));
    expect(w.claim?.committed).toBe(true);
    batcher.submit(job('b'));
    expect(batcher.pending).toBe(2);
    expect(batcher.depth).toBe(0);
    await settle();
    expect(w.answers).toEqual([]);
    batcher.submit(job('c'));
    await settle();
    expect(w.answers).toEqual([['a', 'b', 'c']]);
    expect(batcher.pending).toBe(0);
  });

  it('sends a partial batch max_batch_delay after its first job, and only one worker collects at a time', async () => {
    jest.useFakeTimers();
    const { batcher, worker } = setup({ batchSize: 4, maxBatchDelay: 100 });
    const first = worker().idle();
    const second = worker().idle();
    batcher.submit(job('a'));
    jest.advanceTimersByTime(60);
    batcher.submit(job('b'));
    jest.advanceTimersByTime(39);
    await settle();
    expect(first.answers).toEqual([]);
    jest.advanceTimersByTime(1);
    await settle();
    expect(first.answers).toEqual([['a', 'b']]);
    expect(second.answers).toEqual([]);
    // The next arrival starts the second worker's own delay.
    batcher.submit(job('c'));
    jest.advanceTimersByTime(100);
    await settle();
    expect(second.answers).toEqual([['c']]);
  });

  it('answers QueueFull with false at capacity; a collecting worker takes arrivals beyond it', async () => {
    const { batcher, worker } = setup({ batchSize: 3, maxBatchDelay: 1000, queueCapacity: 2 });
    expect([batcher.submit(job('a')), batcher.submit(job('b')), batcher.submit(job('c'))]).toEqual([true, true, false]);
    expect(batcher.queueCapacity).toBe(2);
    expect(batcher.depth).toBe(2);
    const w = worker().idle();
    // a and b make a partial batch: the worker collects, and the queue is empty again.
    expect(w.claim?.committed).toBe(true);
    expect(batcher.submit(job('c'))).toBe(true);
    await settle();
    expect(w.answers).toEqual([['a', 'b', 'c']]);
  });

  describe('when a worker leaves', () => {
    it('puts the batch it was collecting back at the head of the queue, in order, for the next worker', async () => {
      jest.useFakeTimers();
      const { batcher, depths, worker } = setup({ batchSize: 3, maxBatchDelay: 1000 });
      const dying = worker().idle();
      batcher.submit(job('a'));
      batcher.submit(job('b'));
      dying.leave();
      await settle();
      expect(dying.answers).toEqual(['released']);
      expect(batcher.depth).toBe(2);
      expect(depths.at(-1)).toBe(2);
      // Later arrivals queue behind the jobs put back, and nothing goes to the worker that left.
      batcher.submit(job('c'));
      const next = worker().idle();
      await settle();
      expect(next.answers).toEqual([['a', 'b', 'c']]);
      expect(dying.answers).toEqual(['released']);
      expect(batcher.pending).toBe(0);
    });

    it('hands the batch it was collecting to a worker already idle, which collects it on', async () => {
      jest.useFakeTimers();
      const { batcher, worker } = setup({ batchSize: 3, maxBatchDelay: 1000 });
      const dying = worker().idle();
      const other = worker().idle();
      batcher.submit(job('a'));
      dying.leave();
      expect(other.claim?.committed).toBe(true);
      expect(batcher.depth).toBe(0);
      batcher.submit(job('b'));
      jest.advanceTimersByTime(1000);
      await settle();
      expect(other.answers).toEqual([['a', 'b']]);
    });

    it('withdraws an idle worker\'s claim, so no job is handed to it', async () => {
      const { batcher, worker } = setup();
      const leaving = worker().idle();
      const staying = worker().idle();
      leaving.leave();
      batcher.submit(job('a'));
      await settle();
      expect(leaving.answers).toEqual(['released']);
      expect(staying.answers).toEqual([['a']]);
    });

    it('leaves a batch already handed over alone: it is not queued a second time', async () => {
      const { batcher, worker } = setup();
      const w = worker().idle();
      batcher.submit(job('a'));
      w.leave();
      expect(batcher.depth).toBe(0);
      const next = worker().idle();
      await settle();
      expect(w.answers).toEqual([['a']]);
      expect(next.answers).toEqual([]);
    });
  });

  describe('when the model drains', () => {
    it('flush sends the batch being collected at once, and later batches without waiting', async () => {
      jest.useFakeTimers();
      const { batcher, worker } = setup({ batchSize: 4, maxBatchDelay: 1000 });
      const first = worker().idle();
      batcher.submit(job('a'));
      batcher.flush();
      await settle();
      expect(first.answers).toEqual([['a']]);
      const second = worker().idle();
      batcher.submit(job('b'));
      await settle();
      expect(second.answers).toEqual([['b']]);
    });

    it('takeQueued returns the queued jobs for the caller to answer and sends the collecting batch to its worker', async () => {
      jest.useFakeTimers();
      const { batcher, depths, worker } = setup({ batchSize: 4, maxBatchDelay: 1000 });
      batcher.submit(job('a'));
      batcher.submit(job('b'));
      expect(names(batcher.takeQueued())).toEqual(['a', 'b']);
      expect(depths.at(-1)).toBe(0);
      const collecting = worker().idle();
      batcher.submit(job('c'));
      expect(batcher.takeQueued()).toEqual([]);
      await settle();
      expect(collecting.answers).toEqual([['c']]);
      expect(batcher.pending).toBe(0);
    });
  });

  describe('when a worker loses the batch it was running', () => {
    /** Submits the jobs and hands them, as one batch, to a worker that then loses it. */
    async function lostBatch(batcher: Batcher, names: string[], worker: InMemoryWorker): Promise<Job[]> {
      const jobs = names.map(job);
      worker.idle();
      for (const j of jobs) batcher.submit(j);
      await settle();
      return jobs;
    }

    it('queues every job of a batch lost to a death again, at the head and past capacity, each alone and without waiting', async () => {
      jest.useFakeTimers();
      const { batcher, depths, retries, worker } = setup({ batchSize: 3, maxBatchDelay: 1000, queueCapacity: 3 });
      const dying = worker();
      const jobs = await lostBatch(batcher, ['a', 'b', 'c'], dying);
      expect(dying.answers).toEqual([['a', 'b', 'c']]);
      for (const name of ['d', 'e', 'f']) batcher.submit(job(name));
      expect(batcher.submit(job('g'))).toBe(false);
      batcher.lost(jobs, 'died', failure);
      expect(answered).toEqual([]);
      expect(retries).toEqual(['retried a died', 'retried b died', 'retried c died']);
      expect(batcher.depth).toBe(6);
      expect(depths.at(-1)).toBe(6);
      // Accepted once: the retries do not count against new arrivals beyond what was already queued.
      expect(batcher.submit(job('h'))).toBe(false);
      const next = [worker().idle(), worker().idle(), worker().idle(), worker().idle()];
      await settle();
      // Each retried job alone, in order, at once; then the waiting jobs batch as before.
      expect(next.map((w) => w.answers)).toEqual([[['a']], [['b']], [['c']], [['d', 'e', 'f']]]);
    });

    it('answers a retried job that loses its worker again with the failure, and never tries it a third time', async () => {
      const { batcher, retries, worker } = setup({ batchSize: 2, maxBatchDelay: 1000 });
      const [poison, good] = await lostBatch(batcher, ['poison', 'good'], worker());
      batcher.lost([poison!, good!], 'died', failure);
      const alone = [worker().idle(), worker().idle()];
      await settle();
      expect(alone.map((w) => w.answers)).toEqual([[['poison']], [['good']]]);
      batcher.lost([poison!], 'died', failure);
      expect(answered).toEqual([['poison', 'lost poison']]);
      expect(retries).toEqual(['retried poison died', 'retried good died', 'retryFailed poison died']);
      expect(batcher.depth).toBe(0);
    });

    it('tries the batch-mates of a timed-out batch again alone, but answers a job that timed out alone', async () => {
      const { batcher, retries, worker } = setup({ batchSize: 2, maxBatchDelay: 1000 });
      const mates = await lostBatch(batcher, ['hung', 'mate'], worker());
      batcher.lost(mates, 'timeout', failure);
      expect(answered).toEqual([]);
      const alone = worker().idle();
      await settle();
      expect(alone.answers).toEqual([['hung']]);
      batcher.lost([mates[0]!], 'timeout', failure);
      expect(answered).toEqual([['hung', 'lost hung']]);
      expect(retries).toEqual(['retried hung timeout', 'retried mate timeout', 'retryFailed hung timeout']);

      const [single] = await lostBatch(batcher, ['single'], worker());
      answered.length = 0;
      // `mate` is still queued; a lone job that timed out is answered, not queued with it.
      batcher.lost([single!], 'timeout', failure);
      expect(answered).toEqual([['single', 'lost single']]);
      expect(batcher.depth).toBe(1);
    });

    it('while draining, answers the jobs of a timed-out batch (a second timeout could outlive the drain) and still retries after a death', async () => {
      const { batcher, worker } = setup({ batchSize: 2, maxBatchDelay: 1000 });
      const timedOut = await lostBatch(batcher, ['t1', 't2'], worker());
      const died = await lostBatch(batcher, ['d1', 'd2'], worker());
      batcher.flush();
      batcher.lost(timedOut, 'timeout', failure);
      batcher.lost(died, 'died', failure);
      expect(answered).toEqual([['t1', 'lost t1'], ['t2', 'lost t2']]);
      expect(names(batcher.takeQueued())).toEqual(['d1', 'd2']);
    });

    it('answers every job with its failure when retryOnWorkerFailure is off', async () => {
      const { batcher, retries, worker } = setup({ batchSize: 2, maxBatchDelay: 1000, retryOnWorkerFailure: false });
      const jobs = await lostBatch(batcher, ['a', 'b'], worker());
      batcher.lost(jobs, 'died', failure);
      expect(answered).toEqual([['a', 'lost a'], ['b', 'lost b']]);
      expect(retries).toEqual([]);
      expect(batcher.depth).toBe(0);
    });

    it('hands a retried job to an idle worker even while another worker collects a batch, and keeps it out of that batch', async () => {
      jest.useFakeTimers();
      const { batcher, worker } = setup({ batchSize: 3, maxBatchDelay: 1000 });
      const [lost] = await lostBatch(batcher, ['lost', 'l2', 'l3'], worker());
      const collecting = worker().idle();
      batcher.submit(job('x'));
      expect(collecting.claim?.committed).toBe(true);
      const idle = worker().idle();
      batcher.lost([lost!], 'died', failure);
      batcher.submit(job('y'));
      await settle();
      expect(idle.answers).toEqual([['lost']]);
      jest.advanceTimersByTime(1000);
      await settle();
      expect(collecting.answers).toEqual([['x', 'y']]);
    });

    it('gives back jobs a worker never sent: untried, at the head, batched as before', async () => {
      const { batcher, retries, worker } = setup({ batchSize: 3, maxBatchDelay: 0 });
      batcher.submit(job('c'));
      batcher.giveBack([job('a'), job('b')]);
      const next = worker().idle();
      await settle();
      expect(next.answers).toEqual([['a', 'b', 'c']]);
      expect(retries).toEqual([]);
    });
  });
});
