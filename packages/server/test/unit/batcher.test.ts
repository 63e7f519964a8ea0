import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { type BatchClaim, type BatchingSettings, Batcher } from '../../src/batching/batcher.js';
import type { Job } from '../../src/batching/job.js';

/** A job named for the test; the batcher only moves jobs, so they are never settled here. */
function job(name: string): Job {
  const body = Buffer.from(name);
  return {
    request: { api: 'predictions', receivedAt: 0, input: { requestId: name, body, data: body, form: {}, headers: {}, query: {} } },
    resolve: () => undefined,
    reject: () => undefined,
  };
}

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

function setup(settings: Partial<BatchingSettings> = {}): { batcher: Batcher; depths: number[]; worker(): InMemoryWorker } {
  const depths: number[] = [];
  const batcher = new Batcher({ batchSize: 1, maxBatchDelay: 0, queueCapacity: 100, ...settings }, (depth) => depths.push(depth));
  return { batcher, depths, worker: () => new InMemoryWorker(batcher) };
}

describe('Batcher', () => {
  afterEach(() => {
    jest.useRealTimers();
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
});
