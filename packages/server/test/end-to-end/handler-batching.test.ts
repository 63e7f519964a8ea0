import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SHARED_IMAGES, stableTop1, wideMarginPhotos } from '../../../../test/support/imagenet-reference.js';
import {
  FIXTURES, archiveHandler, buildClassifierArchive, classes, metricValue, startModelServer, type ModelServer,
} from '../../../../test/support/model-server.js';

interface Described {
  batchSize: number;
  maxBatchDelay: number;
  workers: Array<{ status: string }>;
}

interface Echo {
  body: string;
  batchSize: number;
  /** What the worker's context said (batch-first.mjs only). */
  contextBatchSize?: number;
  contextDelay?: number;
}

/**
 * Batching when nothing configures a batch size, against a real `model-server` at its defaults: a
 * handler that exports `maxBatchSize` (the SDK's classifier, or a module saying so) gets the requests
 * already waiting, up to that many, with no delay; any configured batch size wins; a handler that
 * does not export it gets one request at a time, as in TorchServe.
 */
describe('model-server: batching the requests already waiting for handlers that take batches', () => {
  let server: ModelServer;
  const manage = async (route: string, method = 'GET') => fetch(`${server.management}${route}`, { method });
  const describeModel = async (model: string): Promise<Described> => ((await (await manage(`/models/${model}`)).json()) as Described[])[0]!;

  /** `count` requests sent at once to `model`, each making its batch last `ms` milliseconds; answers in order. */
  async function burst(model: string, count: number, ms: number): Promise<Echo[]> {
    return Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const res = await fetch(`${server.inference}/predictions/${model}?ms=${ms}`, { method: 'POST', body: `r${i}`, signal: AbortSignal.timeout(30_000) });
        expect(res.status).toBe(200);
        return (await res.json()) as Echo;
      }),
    );
  }

  beforeAll(async () => {
    server = await startModelServer({
      // One worker per model, so requests sent together queue behind the one running.
      config: { enable_model_api: true },
      prepare: async (store) => {
        await buildClassifierArchive(store);
        await archiveHandler(store, path.join(FIXTURES, 'batch-first.mjs'), { name: 'batchfirst' });
        await archiveHandler(store, path.join(FIXTURES, 'poison.mjs'), { name: 'onebyone' });
        await archiveHandler(store, path.join(FIXTURES, 'bad-max-batch-size.mjs'), { name: 'badbatch' });
        const one = path.join(store, 'batch-one.json');
        await writeFile(one, JSON.stringify({ batchSize: 1 }));
        await archiveHandler(store, path.join(FIXTURES, 'batch-first.mjs'), { name: 'archiveone', configFile: one });
        const delay = path.join(store, 'delay.json');
        await writeFile(delay, JSON.stringify({ maxBatchDelay: 1500 }));
        await archiveHandler(store, path.join(FIXTURES, 'batch-first.mjs'), { name: 'archivedelay', configFile: delay });
      },
      models: ['mobilenet=mobilenet-1.0.mar', 'batchfirst.mar', 'onebyone.mar', 'archiveone.mar', 'archivedelay.mar'],
    });
  }, 180_000);
  afterAll(() => server?.stop());

  it('serves the SDK classifier in batches of up to 8 with no delay, every answer its own image’s', async () => {
    expect(await describeModel('mobilenet')).toMatchObject({ batchSize: 8, maxBatchDelay: 0 });
    const photos = wideMarginPhotos();
    expect(photos.length).toBeGreaterThanOrEqual(2);
    const bodies = await Promise.all(photos.map((photo) => readFile(path.join(SHARED_IMAGES, photo))));
    const labels = { model_name: 'mobilenet', model_version: '1.0' };
    const scrape = async () => {
      const text = await (await fetch(`${server.metrics}/metrics`)).text();
      return { batches: metricValue(text, 'ts_batch_size_count', labels) ?? 0, batched: metricValue(text, 'ts_batch_size_sum', labels) ?? 0 };
    };
    const before = await scrape();
    // Different photos interleaved, sent at once: a batch answering a request with a batch-mate's
    // classes would show as a wrong top-1.
    const order = Array.from({ length: 24 }, (_, i) => i % photos.length);
    const top1 = await Promise.all(
      order.map(async (p) => {
        const res = await fetch(`${server.inference}/predictions/mobilenet`, { method: 'POST', body: bodies[p], headers: { 'content-type': 'image/jpeg' } });
        expect(res.status).toBe(200);
        return classes(await res.json())[0];
      }),
    );
    expect(top1).toEqual(order.map((p) => stableTop1(photos[p]!)));
    const after = await scrape();
    expect(after.batched - before.batched).toBe(24);
  }, 60_000);

  it('hands a handler exporting maxBatchSize what is waiting, up to that many, at once', async () => {
    expect(await describeModel('batchfirst')).toMatchObject({ batchSize: 4, maxBatchDelay: 0 });
    // Each batch takes 300 ms: the first runs alone, the other 8 arrive meanwhile and go in 4s.
    const answers = await burst('batchfirst', 9, 300);
    expect(answers.map((a) => a.body)).toEqual(Array.from({ length: 9 }, (_, i) => `r${i}`));
    const sizes = answers.map((a) => a.batchSize);
    expect(Math.max(...sizes)).toBe(4);
    expect(sizes.filter((s) => s === 4)).toHaveLength(8);
    // The worker started before the server learned the handler's batch size, and its context says what the server does.
    for (const a of answers) expect([a.contextBatchSize, a.contextDelay]).toEqual([4, 0]);
  }, 30_000);

  it('collects the handler’s batches for a delay the archive configures', async () => {
    expect(await describeModel('archivedelay')).toMatchObject({ batchSize: 4, maxBatchDelay: 1500 });
    // Sent one after another, each as soon as the one before is accepted: with no delay the first
    // would go alone; collecting for 1.5 s puts all three in one batch.
    const answers: Array<Promise<Echo>> = [];
    for (let i = 0; i < 3; i++) {
      answers.push(fetch(`${server.inference}/predictions/archivedelay`, { method: 'POST', body: `d${i}` }).then(async (res) => (await res.json()) as Echo));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const answered = await Promise.all(answers);
    expect(answered.map((a) => a.batchSize)).toEqual([3, 3, 3]);
    for (const a of answered) expect([a.contextBatchSize, a.contextDelay]).toEqual([4, 1500]);
  }, 30_000);

  it('gives a handler without maxBatchSize one request at a time', async () => {
    expect(await describeModel('onebyone')).toMatchObject({ batchSize: 1, maxBatchDelay: 100 });
    const answers = await burst('onebyone', 5, 100);
    expect(answers.map((a) => a.batchSize)).toEqual([1, 1, 1, 1, 1]);
  }, 30_000);

  it('keeps a batch size the archive configures, even 1', async () => {
    expect(await describeModel('archiveone')).toMatchObject({ batchSize: 1 });
    const answers = await burst('archiveone', 5, 100);
    expect(answers.map((a) => a.batchSize)).toEqual([1, 1, 1, 1, 1]);
    for (const a of answers) expect(a.contextBatchSize).toBe(1);
  }, 30_000);

  it('keeps a batch size and delay given at registration', async () => {
    const res = await manage('/models?url=batchfirst.mar&model_name=registered&batch_size=2&max_batch_delay=0&initial_workers=1&synchronous=true', 'POST');
    expect(res.status).toBe(200);
    expect(await describeModel('registered')).toMatchObject({ batchSize: 2, maxBatchDelay: 0 });
    const answers = await burst('registered', 7, 300);
    expect(Math.max(...answers.map((a) => a.batchSize))).toBe(2);
  }, 30_000);

  it('refuses to load a handler whose maxBatchSize is not a batch size, naming the export', async () => {
    const res = await manage('/models?url=badbatch.mar&initial_workers=1&synchronous=true', 'POST');
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/maxBatchSize "8": expected an integer from 1 to 1024/);
  }, 30_000);
});
