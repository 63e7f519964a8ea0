import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stableTop1 } from '../../../../test/support/imagenet-reference.js';
import { buildClassifierArchive, classes, curl, metricValue, SHARED, startModelServer, type ModelServer } from '../../../../test/support/model-server.js';

/**
 * KServe's v1 protocol against a real `model-server` with the MobileNet v2 classifier, spoken over raw
 * HTTP (fetch) as KServe's clients speak it: KServe's Python client is not in this project's package
 * mirror. Dog1.jpg and pelican.jpeg have a wide-margin top-1 on every CPU (imagenet-reference.ts).
 */
describe('KServe v1 protocol', () => {
  let server: ModelServer;
  const photos: Record<string, Buffer> = {};
  const PHOTOS = ['Dog1.jpg', 'pelican.jpeg'];

  const v1 = (path: string, init?: RequestInit) => fetch(`${server.inference}/v1${path}`, init);
  const predictV1 = (instances: unknown[], query = '') =>
    v1(`/models/mobilenet:predict${query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances }) });
  const b64 = (photo: string) => ({ data: photos[photo]!.toString('base64') });
  const viaPredictions = async (photo: string) => classes(await (await fetch(`${server.inference}/predictions/mobilenet`, { method: 'POST', body: photos[photo] })).json());
  const viaV2 = async (photo: string) => {
    const res = await fetch(`${server.inference}/v2/models/mobilenet/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', parameters: { content_type: 'base64' }, data: [photos[photo]!.toString('base64')] }],
        // The classifier's labelled top k, as v2 offers it beside the model's own scores.
        outputs: [{ name: 'classes' }],
      }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { outputs: Array<{ name: string; data: string[] }> };
    expect(body.outputs.map((o) => o.name)).toEqual(['classes']);
    return classes(JSON.parse(body.outputs[0]!.data[0]!));
  };
  const expectKServeError = async (res: Response, status: number): Promise<string> => {
    expect(res.status).toBe(status);
    // Exactly this type: KServe's Python client reads an error's message only under it.
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['error']);
    return body['error'] as string;
  };

  beforeAll(async () => {
    for (const photo of PHOTOS) photos[photo] = await readFile(join(SHARED, 'images', photo));
    server = await startModelServer({
      // Batching on, so the test sees a request's instances share a batch.
      config: { batch_size: 8, max_batch_delay: 100 },
      prepare: async (store) => void (await buildClassifierArchive(store)),
      models: ['mobilenet=mobilenet-1.0.mar'],
    });
  }, 120_000);
  afterAll(() => server?.stop());

  it('gives a base64 {"data"} instance the same top-1 as /predictions and v2, the photo’s stable top-1', async () => {
    for (const photo of PHOTOS) {
      const res = await predictV1([b64(photo)]);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      const body = (await res.json()) as { predictions: unknown[] };
      expect(Object.keys(body)).toEqual(['predictions']);
      expect(body.predictions).toHaveLength(1);
      const top = classes(body.predictions[0]);
      expect(top[0]).toBe(stableTop1(photo));
      expect(top[0]).toBe((await viaPredictions(photo))[0]);
      expect(top[0]).toBe((await viaV2(photo))[0]);
    }
  });

  it('answers one prediction per instance, in instance order, the instances batched together', async () => {
    const scrape = async () => {
      const text = await (await fetch(`${server.metrics}/metrics`)).text();
      const labels = { model_name: 'mobilenet', model_version: '1.0' };
      return {
        batches: metricValue(text, 'ts_batch_size_count', labels) ?? 0,
        batched: metricValue(text, 'ts_batch_size_sum', labels) ?? 0,
        requests: metricValue(text, 'ts_inference_requests_total', { ...labels, status: '200' }) ?? 0,
      };
    };
    for (const order of [PHOTOS, [...PHOTOS].reverse()]) {
      const before = await scrape();
      // TorchServe's envelope also takes {"body": …}; TF Serving's binary convention is {"b64": …}.
      const res = await predictV1([b64(order[0]!), { b64: photos[order[1]!]!.toString('base64') }]);
      expect(res.status).toBe(200);
      const { predictions } = (await res.json()) as { predictions: unknown[] };
      expect(predictions.map((p) => classes(p)[0])).toEqual(order.map(stableTop1));
      const after = await scrape();
      // One HTTP request, counted once; its two instances reached the handler as one batch of two.
      expect(after.requests - before.requests).toBe(1);
      expect(after.batches - before.batches).toBe(1);
      expect(after.batched - before.batched).toBe(2);
    }
  });

  it('passes the query string to every instance, and takes KServe’s "inputs" for "instances"', async () => {
    const res = await v1('/models/mobilenet:predict?topk=2', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ body: photos['Dog1.jpg']!.toString('base64') }, b64('pelican.jpeg')] }),
    });
    expect(res.status).toBe(200);
    const { predictions } = (await res.json()) as { predictions: unknown[] };
    expect(predictions.map((p) => classes(p).length)).toEqual([2, 2]);
    expect(predictions.map((p) => classes(p)[0])).toEqual(PHOTOS.map(stableTop1));
  });

  it('reports readiness, lists the models and answers KServe’s liveness', async () => {
    const ready = await v1('/models/mobilenet');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ name: 'mobilenet', ready: true });
    expect(await (await v1('/models')).json()).toEqual({ models: ['mobilenet'] });
    expect(await (await fetch(`${server.inference}/`)).json()).toEqual({ status: 'alive' });

    const scale = (n: number) => fetch(`${server.management}/models/mobilenet?min_worker=${n}&max_worker=1&synchronous=true`, { method: 'PUT' });
    expect((await scale(0)).status).toBe(200);
    try {
      const notReady = await v1('/models/mobilenet');
      expect(notReady.status).toBe(503);
      expect(await notReady.json()).toEqual({ name: 'mobilenet', ready: false });
      expect(await expectKServeError(await predictV1([b64('Dog1.jpg')]), 503)).toMatch(/^Instance 0: Model "mobilenet" cannot take requests/);
    } finally {
      expect((await scale(1)).status).toBe(200);
    }
    expect((await v1('/models/mobilenet')).status).toBe(200);
  }, 60_000);

  it.each([
    ['an unknown model', '/models/nope:predict', JSON.stringify({ instances: [{ data: 'AAAA' }] }), 404, /^Model not found: nope$/],
    ['readiness of an unknown model', '/models/nope', undefined, 404, /^Model not found: nope$/],
    ['a body that is not JSON', '/models/mobilenet:predict', '{"instances": [', 400, /not valid JSON/],
    ['a body with no instances', '/models/mobilenet:predict', '{"signature_name": "serving_default"}', 400, /no "instances"/],
    ['instances that are not a list', '/models/mobilenet:predict', '{"instances": {"data": "AAAA"}}', 400, /Expected "instances" to be a list/],
    ['an empty list', '/models/mobilenet:predict', '{"instances": []}', 400, /empty/],
    ['both instances and inputs', '/models/mobilenet:predict', '{"instances": [1], "inputs": [1]}', 400, /both "instances" and "inputs"/],
    ['bad base64', '/models/mobilenet:predict', JSON.stringify({ instances: [{ data: 'AAAA' }, { data: 'not base64!' }] }), 400, /^Instance 1: "data" is not valid base64$/],
    ['a base64 instance with other fields', '/models/mobilenet:predict', JSON.stringify({ instances: [{ data: 'AAAA', topk: 3 }] }), 400, /^Instance 0: .*"topk".*query string/],
    ['a verb that is not predict or explain', '/models/mobilenet:classify', '{}', 404, /Requested resource is not found/],
    ['an unknown route under /v1', '/nothing', undefined, 404, /Requested resource is not found/],
  ])('answers %s in KServe’s error form', async (_what, path, body, status, message) => {
    const res = await v1(path, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(await expectKServeError(res, status)).toMatch(message);
  });

  it('refuses more instances than the limit, before queueing any', async () => {
    const tooMany = Array.from({ length: 65 }, () => ({ data: 'AAAA' }));
    expect(await expectKServeError(await predictV1(tooMany), 400)).toBe('The request has 65 instances; at most 64 fit in one request: split it into several requests');
  });

  it('answers a failing instance for the whole request, naming it, never a 200 missing an answer', async () => {
    const notAnImage = { data: Buffer.from('not an image').toString('base64') };
    const message = await expectKServeError(await predictV1([b64('Dog1.jpg'), notAnImage, b64('pelican.jpeg')]), 400);
    expect(message).toMatch(/^Instance 1: /);
    // The other instances were answered by the handler all the same: the server is unharmed.
    expect((await predictV1([b64('Dog1.jpg')])).status).toBe(200);
  });

  it('answers :explain with 501 for a known model and 404 for an unknown one', async () => {
    const explain = (model: string) => v1(`/models/${model}:explain`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances: [b64('Dog1.jpg')] }) });
    expect(await expectKServeError(await explain('mobilenet'), 501)).toMatch(/explanations are not supported/);
    expect(await expectKServeError(await explain('nope'), 404)).toMatch(/Model not found/);
  });

  it('refuses a body over max_request_size with 413 in KServe’s form, counted for its model', async () => {
    const count = async () =>
      metricValue(await (await fetch(`${server.metrics}/metrics`)).text(), 'ts_inference_requests_total', { model_name: 'mobilenet', model_version: '1.0', status: '413' }) ?? 0;
    const before = await count();
    const file = join(server.dir, 'huge.json');
    await writeFile(file, JSON.stringify({ instances: [{ data: 'A'.repeat(6_553_500) }] }));
    // curl sends Expect: 100-continue for a body this large; the server refuses it from the declared length.
    const res = await curl(['-X', 'POST', '-H', 'content-type: application/json', '--data-binary', `@${file}`, `${server.inference}/v1/models/mobilenet:predict`]);
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toBe('application/json');
    expect(JSON.parse(res.body)).toEqual({ error: expect.stringMatching(/larger than max_request_size \(\d+ bytes\)/) });
    expect((await count()) - before).toBe(1);
  });
});

describe('KServe v1 protocol with token authorization', () => {
  let server: ModelServer;
  let key: string;

  beforeAll(async () => {
    server = await startModelServer({
      config: { enable_token_authorization: true },
      prepare: async (store) => void (await buildClassifierArchive(store)),
      models: ['mobilenet=mobilenet-1.0.mar'],
    });
    key = (JSON.parse(await readFile(join(server.dir, 'key_file.json'), 'utf8')) as { inference: string }).inference;
  }, 120_000);
  afterAll(() => server?.stop());

  it('needs the inference key on every v1 route, answering 401 in KServe’s form, and leaves liveness open', async () => {
    const image = (await readFile(join(SHARED, 'images', 'Dog1.jpg'))).toString('base64');
    const body = JSON.stringify({ instances: [{ data: image }] });
    const requests: Array<[string, RequestInit]> = [
      ['/v1/models', {}],
      ['/v1/models/mobilenet', {}],
      ['/v1/models/mobilenet:predict', { method: 'POST', body }],
    ];
    for (const [path, init] of requests) {
      const refused = await fetch(`${server.inference}${path}`, init);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer');
      expect(Object.keys((await refused.json()) as object)).toEqual(['error']);
      const allowed = await fetch(`${server.inference}${path}`, { ...init, headers: { authorization: `Bearer ${key}` } });
      expect(allowed.status).toBe(200);
    }
    const allowed = await fetch(`${server.inference}/v1/models/mobilenet:predict`, { method: 'POST', body, headers: { authorization: `Bearer ${key}` } });
    const { predictions } = (await allowed.json()) as { predictions: unknown[] };
    expect(classes(predictions[0])[0]).toBe(stableTop1('Dog1.jpg'));
    expect((await fetch(`${server.inference}/`)).status).toBe(200);
  });
});
