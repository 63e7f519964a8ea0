import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FIXTURES, archive, metricValue, modelServer, runState, serverDir, stopAndClean } from '../../../../test/support/model-server.js';

interface Described {
  retryOnWorkerFailure: boolean;
  workers: Array<{ pid: number | null; status: string; restarts: number }>;
}

interface Answer {
  status: number;
  /** The handler's answer, or the error body. */
  body: { body?: string; batchSize?: number; pid?: number; type?: string; message?: string };
}

/**
 * A request that kills or hangs its worker, in a batch of 8 with 7 good ones, against a real
 * `model-server`: the batch-mates are tried again, each alone, and answered; the poison request is
 * isolated and answered alone; each of its attempts costs one worker, no more.
 */
describe('model-server: a poison request fails alone, not its batch', () => {
  // Two workers, so a batch's retries run on another worker while the dead one is replaced; batches
  // of 8 filled within 5 s, so 8 concurrent requests are always one batch.
  const cwd = serverDir('batch_size=8\nmax_batch_delay=5000\ndefault_workers_per_model=2\ndefault_response_timeout=2\n');
  let inference: string;
  let management: string;
  let metrics: string;

  beforeAll(async () => {
    const handler = path.join(FIXTURES, 'poison.mjs');
    archive(cwd, ['--model-name', 'retrying', '--handler', handler]);
    const strictConfig = path.join(cwd, 'strict.json');
    writeFileSync(strictConfig, JSON.stringify({ retryOnWorkerFailure: false }));
    archive(cwd, ['--model-name', 'strict', '--handler', handler, '--config-file', strictConfig]);
    const started = await modelServer(cwd, ['--start', '--model-store', 'model_store', '--models', 'retrying.mar', 'strict.mar']);
    if (started.code !== 0) throw new Error(`--start failed: ${started.stderr}`);
    const addresses = runState(cwd).addresses;
    ({ inference, management } = addresses);
    if (!addresses.metrics) throw new Error('the run-state file has no metrics address');
    metrics = addresses.metrics;
  }, 90_000);

  afterAll(() => stopAndClean(cwd), 60_000);

  const describeModel = async (model: string): Promise<Described> =>
    ((await (await fetch(`${management}/models/${model}`)).json()) as Described[])[0]!;

  const restarts = async (model: string): Promise<number> =>
    (await describeModel(model)).workers.reduce((sum, w) => sum + w.restarts, 0);

  /** The 8 bodies, `poison` 4th, sent at once; their answers in the same order. */
  async function batchOfEight(model: string, poison: string): Promise<Answer[]> {
    const bodies = ['good-1', 'good-2', 'good-3', poison, 'good-5', 'good-6', 'good-7', 'good-8'];
    return Promise.all(
      bodies.map(async (body, i) => {
        const res = await fetch(`${inference}/predictions/${model}`, {
          method: 'POST', body, headers: { 'x-request-id': `${model}-${i}` }, signal: AbortSignal.timeout(30_000),
        });
        return { status: res.status, body: (await res.json()) as Answer['body'] };
      }),
    );
  }

  /** Waits until both workers of the model serve again (a dead one is not listed while its replacement waits out its back-off). */
  async function allReady(model: string): Promise<Described> {
    for (let i = 0; i < 100; i++) {
      const described = await describeModel(model);
      if (described.workers.length === 2 && described.workers.every((w) => w.status === 'READY')) return described;
      await sleep(100);
    }
    throw new Error(`the workers of ${model} did not come back`);
  }

  it('answers 7 × 200 and 1 × 500 WorkerDied for one poison input among 8, replacing the worker once per poison attempt', async () => {
    expect((await allReady('retrying')).retryOnWorkerFailure).toBe(true);
    const answers = await batchOfEight('retrying', 'poison-exit');

    const poison = answers[3]!;
    expect(poison.status).toBe(500);
    expect(poison.body).toMatchObject({ type: 'WorkerDied' });
    expect(poison.body.message).toMatch(/exited with code 3 \(its second try, alone: the worker of its first try died; it is not tried again\)/);
    const good = answers.filter((_, i) => i !== 3);
    expect(good.map((a) => a.status)).toEqual(Array(7).fill(200));
    // Each good request was retried alone, after the batch's worker died, on another process.
    const deaths = (await readFile(path.join(cwd, 'logs/model-server.log'), 'utf8'))
      .split('\n').filter((line) => line.includes('"msg":"worker died"') && line.includes('"model":"retrying"'))
      .map((line) => JSON.parse(line) as { pid: number });
    expect(deaths).toHaveLength(2);
    for (const [i, a] of good.entries()) {
      expect(a.body).toMatchObject({ body: `good-${i < 3 ? i + 1 : i + 2}`, batchSize: 1 });
      expect(a.body.pid).not.toBe(deaths[0]!.pid);
    }
    // Two attempts of the poison request, two workers replaced; and no more once it is answered.
    expect(await restarts('retrying')).toBe(2);
    await sleep(1500);
    expect(await restarts('retrying')).toBe(2);
    expect((await allReady('retrying')).workers).toHaveLength(2);

    const text = await (await fetch(`${metrics}/metrics`)).text();
    const labels = { model_name: 'retrying', model_version: '1.0' };
    expect(metricValue(text, 'ts_request_retries_total', { ...labels, cause: 'died' })).toBe(8);
    expect(metricValue(text, 'ts_request_retries_failed_total', { ...labels, cause: 'died' })).toBe(1);
    expect(metricValue(text, 'ts_worker_restarts_total', labels)).toBe(2);
  }, 60_000);

  it('isolates a request that hangs its worker the same way: its batch-mates are answered, it gets 504 after its second timeout', async () => {
    await allReady('retrying');
    const before = await restarts('retrying');
    const t0 = Date.now();
    const answers = await batchOfEight('retrying', 'poison-hang');
    expect(answers[3]).toMatchObject({ status: 504, body: { type: 'HandlerTimeout' } });
    expect(answers[3]!.body.message).toMatch(/its second try, alone: the worker of its first try ran past the response timeout/);
    expect(answers.filter((_, i) => i !== 3).map((a) => [a.status, a.body.batchSize])).toEqual(Array(7).fill([200, 1]));
    // Two response timeouts of 2 s: the batch's, then its own alone.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(4000);
    await allReady('retrying');
    expect(await restarts('retrying')).toBe(before + 2);
  }, 60_000);

  it('with retryOnWorkerFailure false, answers the whole batch 500 WorkerDied and replaces the worker once', async () => {
    const before = await allReady('strict');
    expect(before.retryOnWorkerFailure).toBe(false);
    const answers = await batchOfEight('strict', 'poison-exit');
    for (const a of answers) {
      expect(a.status).toBe(500);
      expect(a.body).toMatchObject({ type: 'WorkerDied' });
      expect(a.body.message).not.toMatch(/second try/);
    }
    await allReady('strict');
    expect(await restarts('strict')).toBe(1);
    const text = await (await fetch(`${metrics}/metrics`)).text();
    expect(metricValue(text, 'ts_request_retries_total', { model_name: 'strict', model_version: '1.0', cause: 'died' })).toBeUndefined();
  }, 60_000);
});
