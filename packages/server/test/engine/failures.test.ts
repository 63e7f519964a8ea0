import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { NodeserveError } from '@nodeserve/errors';
import { HandlerError } from '@nodeserve/handler-sdk/errors';
import { HandlerTimeout, InvalidHandlerOutput, ModelLoadFailed, WorkerDied } from '../../src/errors.js';
import type { ServerEventMap } from '../../src/events.js';
import { type Engine, json, request, startEngine } from './harness.js';

async function rejection(promise: Promise<unknown>): Promise<NodeserveError> {
  try {
    await promise;
  } catch (error) {
    return error as NodeserveError;
  }
  throw new Error('expected the request to fail');
}

describe('worker failures', () => {
  let engine: Engine;
  const exits: ServerEventMap['worker.exited'][0][] = [];
  const handlerFailures: ServerEventMap['handler.failed'][0][] = [];

  beforeAll(async () => {
    engine = await startEngine({ workerMaxHeapMb: 48 });
    engine.events.on('worker.exited', (e) => exits.push(e));
    engine.events.on('handler.failed', (e) => handlerFailures.push(e));
  });

  afterAll(async () => {
    await engine.close();
  });

  it('answers 500 WorkerDied when the handler exits the process on its retry too, and the next request succeeds', async () => {
    const archive = await engine.archive('exit-on-input.mjs', { name: 'exits' });
    const model = await engine.registry.register({ archive, initialWorkers: 1, synchronous: true });
    const firstPid = json(await model.submit(request('before')))['pid'];
    const [died, after] = await Promise.allSettled([model.submit(request('exit')), model.submit(request('after'))]);
    const error = (died as PromiseRejectedResult).reason as NodeserveError;
    expect(error).toBeInstanceOf(WorkerDied);
    expect(error.status).toBe(500);
    expect(error.message).toMatch(/model "exits" died .*exited with code 3 \(its second try/);
    // The request queued behind the crash is served by the replacement worker.
    expect(after.status).toBe('fulfilled');
    const next = json(await model.submit(request('next')));
    expect(next['ok']).toBe('next');
    expect(next['pid']).not.toBe(firstPid);
    expect(exits.some((e) => e.model === 'exits' && !e.expected && /code 3/.test(e.reason))).toBe(true);
    // Once for the request's first try, once for its retry: not again.
    expect(model.workers()[0]?.restarts).toBe(2);
  });

  it('names the cause when a worker aborts or throws outside the handler', async () => {
    const archive = await engine.archive('exit-on-input.mjs', { name: 'aborts' });
    const model = await engine.registry.register({ archive, initialWorkers: 1, synchronous: true });
    expect((await rejection(model.submit(request('abort')))).message).toMatch(/killed by SIGABRT/);
    const uncaught = await rejection(model.submit(request('uncaught')));
    expect(uncaught).toBeInstanceOf(WorkerDied);
    expect(uncaught.message).toMatch(/uncaught Error: thrown outside the handler/);
    expect(json(await model.submit(request('fine')))['ok']).toBe('fine');
  });

  it('answers 500 naming memory when a worker runs out of heap', async () => {
    const archive = await engine.archive('oom.mjs', { name: 'oom' });
    const model = await engine.registry.register({ archive, initialWorkers: 1, synchronous: true });
    const error = await rejection(model.submit(request('grow')));
    expect(error).toBeInstanceOf(WorkerDied);
    expect(error.message).toMatch(/ran out of memory/);
    expect(json(await model.submit(request('small')))['ok']).toBe(true);
  });

  it('gives the batch a dying worker was collecting back to the queue, and another worker answers it', async () => {
    const archive = await engine.archive('slow.mjs', { name: 'collector-dies', config: { batchSize: 4, maxBatchDelay: 2000 } });
    const model = await engine.registry.register({ archive, initialWorkers: 2, synchronous: true });
    const answer = model.submit(request('x', { query: { ms: '10' } }));
    const collecting = model.workers().find((w) => w.state === 'busy');
    expect(collecting?.pid).toBeGreaterThan(0);
    process.kill(collecting!.pid!, 'SIGKILL');
    let timer: NodeJS.Timeout | undefined;
    const unanswered = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('the request got no answer within 10 s')), 10_000);
    });
    const served = json(await Promise.race([answer, unanswered]).finally(() => clearTimeout(timer)));
    expect(served['pid']).not.toBe(collecting!.pid);
    expect(served['batchSize']).toBe(1);
  });

  it('answers 504 when a batch runs past the response timeout, replaces the worker, and the next request succeeds', async () => {
    const archive = await engine.archive('hang-on-input.mjs', { name: 'hangs', config: { responseTimeout: 1 } });
    const model = await engine.registry.register({ archive, initialWorkers: 1, synchronous: true });
    const error = await rejection(model.submit(request('hang')));
    expect(error).toBeInstanceOf(HandlerTimeout);
    expect(error.status).toBe(504);
    expect(json(await model.submit(request('next')))['ok']).toBe(true);
    expect(exits.some((e) => e.model === 'hangs' && /response timeout of 1 s/.test(e.reason))).toBe(true);
  });

  it('fails the whole batch when the handler throws: the message to the client, the stack to the log', async () => {
    const archive = await engine.archive('throw.mjs', { name: 'throws', config: { batchSize: 2, maxBatchDelay: 1000 } });
    const model = await engine.registry.register({ archive, initialWorkers: 1, synchronous: true });
    const errors = await Promise.all([rejection(model.submit(request('a'))), rejection(model.submit(request('b')))]);
    for (const error of errors) {
      expect(error).toBeInstanceOf(HandlerError);
      expect([error.code, error.status]).toEqual(['HandlerError', 500]);
      expect(error.message).toBe('cannot preprocess a batch of 2');
      expect(error.message).not.toMatch(/at /);
    }
    const event = handlerFailures.find((e) => e.model === 'throws');
    expect(event?.requestIds).toHaveLength(2);
    expect(event?.stack).toMatch(/RangeError: cannot preprocess a batch of 2\n\s+at preprocessTheBatch/);
  });

  it('fails the batch with a message saying so when the handler returns the wrong number of results', async () => {
    const archive = await engine.archive('wrong-count.mjs', { name: 'miscounts', config: { batchSize: 3, maxBatchDelay: 1000 } });
    const model = await engine.registry.register({ archive, initialWorkers: 1, synchronous: true });
    const errors = await Promise.all([1, 2, 3].map((i) => rejection(model.submit(request(`${i}`)))));
    for (const error of errors) {
      expect(error).toBeInstanceOf(HandlerError);
      expect([error.code, error.status]).toEqual([InvalidHandlerOutput.code, 500]);
      expect(error.message).toMatch(/returned 2 results for a batch of 3 requests: expected 3/);
    }
  });

  it('rejects registration with the handler\'s own message when initialize fails, and registers nothing', async () => {
    const archive = await engine.archive('init-fails.mjs', { name: 'broken' });
    const error = await rejection(engine.registry.register({ archive, initialWorkers: 1, synchronous: true }));
    expect(error).toBeInstanceOf(ModelLoadFailed);
    expect(error.message).toMatch(/Model "broken" failed to load: model file weights.onnx is missing/);
    expect(engine.logs).toContainEqual(expect.objectContaining({ level: 'error', msg: expect.stringMatching(/failed to initialise: .*model file weights\.onnx is missing\n\s+at (Module\.)?initialize /) }));
    expect(() => engine.registry.resolve('broken')).toThrow(/not found/);
  });

  it('resolves the handler SDK for a bundle extracted outside the server, and passes its error status through', async () => {
    const archive = await engine.archive('uses-sdk.mjs', { name: 'sdk', exportName: 'handler' });
    expect(archive.startsWith(engine.root)).toBe(true);
    const model = await engine.registry.register({ archive, initialWorkers: 1, synchronous: true });
    expect(json(await model.submit(request('x')))).toEqual({ ok: true, errorType: 'InvalidInput' });
    const error = await rejection(model.submit(request('')));
    expect(error.code).toBe('InvalidInput');
    expect(error.status).toBe(400);
    expect(error.message).toBe('the body is empty');
  });
});
