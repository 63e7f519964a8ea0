import { afterEach, describe, expect, it, jest } from '@jest/globals';
import type { Logger, ModelDescription } from '@nodeserve/handler-sdk';
import { ModelLoadFailed } from '../../src/errors.js';
import type { WorkerExit, WorkerInfo, WorkerState } from '../../src/workers/worker.js';
import { type Backoff, type PooledWorker, WorkerPool } from '../../src/workers/worker-pool.js';

/**
 * A stand-in for a worker process, driven by the test: the pool under test only starts, watches and
 * stops workers, so what it needs of one is its state and its two promises.
 */
class ScriptedWorker implements PooledWorker {
  state: WorkerState = 'starting';
  retiring = false;
  readonly ready: Promise<ModelDescription | undefined>;
  readonly exited: Promise<WorkerExit>;
  private markReady!: (metadata: ModelDescription | undefined) => void;
  private failReady!: (error: Error) => void;
  private markExited!: (exit: WorkerExit) => void;

  constructor(readonly id: string, readonly slot: number) {
    this.ready = new Promise((resolve, reject) => {
      this.markReady = resolve;
      this.failReady = reject;
    });
    this.ready.catch(() => undefined);
    this.exited = new Promise((resolve) => (this.markExited = resolve));
  }

  initialised(metadata?: ModelDescription): void {
    this.state = 'ready';
    this.markReady(metadata);
  }

  /** Its handler could not initialise: the process exits by itself. */
  failsToStart(message = 'initialize threw'): void {
    this.failReady(new ModelLoadFailed(message));
    this.exit({ expected: false, reason: message, servedMs: undefined });
  }

  crash(servedMs: number): void {
    this.exit({ expected: false, reason: 'exited with code 3', servedMs });
  }

  /** A busy worker finishes its batch: if it was asked to stop, it goes now. */
  finishBatch(): void {
    this.state = 'ready';
    if (this.retiring) this.exit({ expected: true, reason: 'stopped', servedMs: 1 });
  }

  stop(): Promise<WorkerExit> {
    this.retiring = true;
    if (this.state === 'starting') this.failReady(new ModelLoadFailed('stopped while starting'));
    if (this.state !== 'busy') this.exit({ expected: true, reason: 'stopped', servedMs: undefined });
    return this.exited;
  }

  info(restarts: number): WorkerInfo {
    return { id: this.id, pid: 1, state: this.state, gpuId: null, startedAt: '', restarts };
  }

  private exit(exit: WorkerExit): void {
    this.state = 'dead';
    this.markExited(exit);
  }
}

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const BACKOFF: Backoff = { firstMs: 100, maxMs: 1000, healthyAfterMs: 60_000 };

function setup(): { pool: WorkerPool<ScriptedWorker>; spawned: ScriptedWorker[]; live(): ScriptedWorker[] } {
  const spawned: ScriptedWorker[] = [];
  const pool = new WorkerPool<ScriptedWorker>({
    model: 'm',
    version: '1',
    logger: quiet,
    backoff: BACKOFF,
    spawn: (slot) => {
      const worker = new ScriptedWorker(`w${spawned.length + 1}`, slot);
      spawned.push(worker);
      return worker;
    },
  });
  return { pool, spawned, live: () => spawned.filter((w) => w.state !== 'dead') };
}

/** Lets the pool's promise callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('WorkerPool', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('starts one worker per slot and resolves a synchronous resize once all of them serve', async () => {
    const { pool, spawned } = setup();
    let resized = false;
    const resize = pool.resize(2, true).then(() => (resized = true));
    expect(spawned.map((w) => w.slot)).toEqual([0, 1]);
    expect(pool.target).toBe(2);
    spawned[0]!.initialised();
    await settle();
    expect(resized).toBe(false);
    spawned[1]!.initialised();
    await resize;
    expect(pool.live).toBe(2);
  });

  it('passes on the description each worker gives as it initialises', async () => {
    const { pool, spawned } = setup();
    const seen: Array<ModelDescription | undefined> = [];
    pool.on('metadata', (m) => seen.push(m));
    await pool.resize(1, false);
    const description: ModelDescription = { inputs: [], outputs: [], platform: 'onnxruntime_onnx' };
    spawned[0]!.initialised(description);
    await settle();
    expect(seen).toEqual([description]);
  });

  describe('shrinking', () => {
    it('gives up idle workers before busy ones, the highest slot first among equals', async () => {
      const { pool, spawned } = setup();
      await pool.resize(4, false);
      for (const w of spawned) w.initialised();
      spawned[0]!.state = 'busy';
      await pool.resize(3, false);
      expect(spawned.map((w) => w.retiring)).toEqual([false, false, false, true]);
      await pool.resize(1, false);
      expect(spawned.map((w) => w.retiring)).toEqual([false, true, true, true]);
      await pool.resize(0, false);
      expect(spawned[0]!.retiring).toBe(true);
    });

    it('gives up a restarting slot, then a starting worker, before a serving one', async () => {
      jest.useFakeTimers();
      const { pool, spawned } = setup();
      await pool.resize(3, false);
      spawned[0]!.initialised();
      spawned[1]!.initialised();
      // Slot 0 dies and waits out its back-off; slot 2 is still starting.
      spawned[0]!.crash(10);
      await settle();
      await pool.resize(2, false);
      jest.advanceTimersByTime(BACKOFF.maxMs);
      // Slot 0 was given up: nothing replaced its worker.
      expect(spawned).toHaveLength(3);
      await pool.resize(1, false);
      expect(spawned[2]!.retiring).toBe(true);
      expect(spawned[1]!.retiring).toBe(false);
    });

    it('lets a busy worker finish its batch, lists it until it exits, and resolves a synchronous resize then', async () => {
      const { pool, spawned } = setup();
      await pool.resize(1, false);
      const busy = spawned[0]!;
      busy.initialised();
      busy.state = 'busy';
      let shrunk = false;
      const shrink = pool.resize(0, true).then(() => (shrunk = true));
      await settle();
      expect(busy.retiring).toBe(true);
      expect(shrunk).toBe(false);
      expect(pool.workers().map((w) => w.id)).toEqual(['w1']);
      expect(pool.busy).toBe(1);
      busy.finishBatch();
      await shrink;
      expect(pool.workers()).toEqual([]);
    });

    it('reuses the lowest free slot when it grows again, so GPUs stay spread over the first devices', async () => {
      const { pool, spawned } = setup();
      await pool.resize(3, false);
      for (const w of spawned) w.initialised();
      spawned[1]!.state = 'busy';
      spawned[2]!.state = 'busy';
      await pool.resize(2, false);
      expect(spawned[0]!.retiring).toBe(true);
      await settle();
      await pool.resize(3, false);
      expect(spawned.map((w) => w.slot)).toEqual([0, 1, 2, 0]);
    });
  });

  describe('replacing workers that die', () => {
    it('waits 0.1 s doubling up to its maximum between restarts of a failing slot, and counts them', async () => {
      jest.useFakeTimers();
      const { pool, spawned } = setup();
      await pool.resize(1, false);
      const delays: number[] = [];
      for (let i = 0; i < 5; i++) {
        spawned.at(-1)!.crash(10);
        await settle();
        const before = spawned.length;
        let waited = 0;
        while (spawned.length === before) {
          jest.advanceTimersByTime(50);
          waited += 50;
        }
        delays.push(waited);
      }
      expect(delays).toEqual([100, 200, 400, 800, 1000]);
      expect(pool.workers()[0]?.restarts).toBe(5);
      expect(new Set(spawned.map((w) => w.slot))).toEqual(new Set([0]));
    });

    it('starts the back-off over once a worker has served for a minute', async () => {
      jest.useFakeTimers();
      const { pool, spawned } = setup();
      await pool.resize(1, false);
      for (const servedMs of [10, 10, 10]) {
        spawned.at(-1)!.crash(servedMs);
        await settle();
        jest.advanceTimersByTime(BACKOFF.maxMs);
      }
      expect(spawned).toHaveLength(4);
      spawned.at(-1)!.crash(BACKOFF.healthyAfterMs);
      await settle();
      jest.advanceTimersByTime(BACKOFF.firstMs);
      expect(spawned).toHaveLength(5);
    });

    it('tells its owner when a worker exits, with the counts already updated', async () => {
      jest.useFakeTimers();
      const { pool, spawned } = setup();
      await pool.resize(1, false);
      spawned[0]!.initialised();
      await settle();
      const seen: number[] = [];
      pool.on('change', () => seen.push(pool.live));
      spawned[0]!.crash(10);
      await settle();
      // A draining model checks on each change whether any worker is left to run its queue.
      expect(seen).toEqual([0]);
    });

    it('restarts nothing once stopped, and stop resolves when every worker has exited', async () => {
      jest.useFakeTimers();
      const { pool, spawned, live } = setup();
      await pool.resize(2, false);
      spawned[0]!.initialised();
      spawned[1]!.initialised();
      spawned[1]!.state = 'busy';
      spawned[0]!.crash(10);
      await settle();
      let stopped = false;
      const stop = pool.stop().then(() => (stopped = true));
      jest.advanceTimersByTime(BACKOFF.maxMs);
      await settle();
      expect(stopped).toBe(false);
      spawned[1]!.finishBatch();
      await stop;
      expect(spawned).toHaveLength(2);
      expect(live()).toEqual([]);
      await pool.resize(1, false);
      expect(spawned).toHaveLength(2);
    });
  });

  describe('workers that cannot start', () => {
    it('says so while no worker serves, and a synchronous resize rejects with the reason', async () => {
      const { pool, spawned } = setup();
      const failures: Error[] = [];
      pool.on('startFailed', (error) => failures.push(error));
      const resize = pool.resize(1, true);
      spawned[0]!.failsToStart('model file weights.onnx is missing');
      await expect(resize).rejects.toThrow('model file weights.onnx is missing');
      expect(failures.map((e) => e.message)).toEqual(['model file weights.onnx is missing']);
    });

    it('does not say so while another worker serves the queue', async () => {
      const { pool, spawned } = setup();
      const failures: Error[] = [];
      pool.on('startFailed', (error) => failures.push(error));
      await pool.resize(2, false);
      spawned[0]!.initialised();
      spawned[1]!.failsToStart();
      await settle();
      expect(failures).toEqual([]);
    });

    it('does not count a worker stopped while starting as a failure', async () => {
      const { pool, spawned } = setup();
      const failures: Error[] = [];
      pool.on('startFailed', (error) => failures.push(error));
      const grow = pool.resize(1, true);
      await pool.resize(0, true);
      await grow;
      expect(spawned[0]!.retiring).toBe(true);
      expect(failures).toEqual([]);
    });
  });
});
