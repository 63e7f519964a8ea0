import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { HandlerTimeout } from '../../src/errors.js';
import type { ServerEventMap } from '../../src/events.js';
import type { ModelVersionHandle } from '../../src/models/index.js';
import { type Engine, json, request, startEngine } from './harness.js';

/** The pid of the model's busy worker, once one is busy. */
async function busyWorker(model: ModelVersionHandle): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const pid = model.workers().find((w) => w.state === 'busy')?.pid;
    if (pid !== undefined) return pid;
    await sleep(10);
  }
  throw new Error('no worker became busy');
}

describe('retrying the requests of a lost batch', () => {
  let engine: Engine;
  const retried: ServerEventMap['request.retried'][0][] = [];

  beforeAll(async () => {
    engine = await startEngine();
    engine.events.on('request.retried', (e) => retried.push(e));
  });

  afterAll(async () => {
    await engine.close();
  });

  it('answers a request whose worker is killed from outside on another worker, with no error', async () => {
    const archive = await engine.archive('slow.mjs', { name: 'killed' });
    const model = await engine.registry.register({ archive, initialWorkers: 2, synchronous: true });
    const answer = model.submit(request('x', { query: { ms: '1000' } }));
    const pid = await busyWorker(model);
    process.kill(pid, 'SIGKILL');
    const served = json(await answer);
    expect(served['pid']).not.toBe(pid);
    expect(retried).toContainEqual(expect.objectContaining({ model: 'killed', cause: 'died' }));
    expect(engine.logs.some((l) => /answered twice/.test(l.msg))).toBe(false);
  });

  it('answers every request when the only worker dies during a drain: the retry and the queue wait for its replacement', async () => {
    const archive = await engine.archive('slow.mjs', { name: 'drain-death' });
    const model = await engine.registry.register({ archive, initialWorkers: 1, synchronous: true });
    const inFlight = Array.from({ length: 3 }, () => model.submit(request('x', { query: { ms: '500' } })));
    const pid = await busyWorker(model);
    const drained = engine.registry.unregister('drain-death');
    process.kill(pid, 'SIGKILL');
    const answers = await Promise.all(inFlight);
    for (const answer of answers) expect(json(answer)['pid']).not.toBe(pid);
    await drained;
  });

  it('answers a batch that hangs during a drain 504 after one response timeout, without retrying it past the drain', async () => {
    const archive = await engine.archive('hang-on-input.mjs', { name: 'drain-hang', config: { batchSize: 2, maxBatchDelay: 5000, responseTimeout: 1 } });
    const model = await engine.registry.register({ archive, initialWorkers: 2, synchronous: true });
    const batch = [model.submit(request('hang')), model.submit(request('fine'))].map((p) => p.then(() => 'answered', (e: Error) => e));
    await busyWorker(model);
    await engine.registry.unregister('drain-hang');
    const errors = await Promise.all(batch);
    for (const error of errors) expect(error).toBeInstanceOf(HandlerTimeout);
    expect(retried.some((e) => e.model === 'drain-hang')).toBe(false);
  });
});
