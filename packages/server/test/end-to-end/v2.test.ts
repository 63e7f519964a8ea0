import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InferenceSession } from 'onnxruntime-node';
import { buildClassifierArchive, classes, DOG, KITTEN, metricValue, SHARED, startModelServer, type ModelServer } from '../../../../test/support/model-server.js';

interface V2Output {
  name: string;
  datatype: string;
  shape: number[];
  data?: unknown[];
  parameters?: Record<string, unknown>;
}

/** KServe v2 (Open Inference Protocol) and the metrics endpoint, against a real `model-server`. */
describe('KServe v2 API and metrics', () => {
  let server: ModelServer;
  let kitten: Buffer;
  let dog: Buffer;

  const v2 = (path: string, init?: RequestInit) => fetch(`${server.inference}/v2${path}`, init);
  const inferJson = (image: Buffer, extra: Record<string, unknown> = {}) =>
    v2('/models/mobilenet/infer', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        id: 'req-1',
        inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', parameters: { content_type: 'base64' }, data: [image.toString('base64')] }],
        ...extra,
      }),
    });
  const predict = async (image: Buffer) => (await fetch(`${server.inference}/predictions/mobilenet`, { method: 'POST', body: image })).json();
  const scrape = async () => (await fetch(`${server.metrics}/metrics`)).text();

  beforeAll(async () => {
    [kitten, dog] = await Promise.all([readFile(KITTEN), readFile(DOG)]);
    server = await startModelServer({ prepare: async (store) => void (await buildClassifierArchive(store)), models: ['mobilenet=mobilenet-1.0.mar'] });
  }, 120_000);
  afterAll(() => server?.stop());

  it('describes the server, its liveness and readiness', async () => {
    expect(await (await v2('')).json()).toEqual({ name: 'nodeserve', version: expect.any(String), extensions: ['binary_tensor_data'] });
    expect(await (await v2('/health/live')).json()).toEqual({ live: true });
    const ready = await v2('/health/ready');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true });
  });

  it('gives the model’s real input and output shapes, read from the ONNX model', async () => {
    const session = await InferenceSession.create(join(SHARED, 'models/mobilenetv2-12-int8.onnx'));
    const dims = (shape: ReadonlyArray<number | string>) => shape.map((d) => (typeof d === 'number' ? d : -1));
    const meta = (await (await v2('/models/mobilenet')).json()) as { name: string; versions: string[]; inputs: V2Output[]; outputs: V2Output[] };
    const input = session.inputMetadata[0] as { name: string; shape: ReadonlyArray<number | string> };
    const output = session.outputMetadata[0] as { name: string; shape: ReadonlyArray<number | string> };
    expect(meta).toMatchObject({ name: 'mobilenet', versions: ['1.0'] });
    // The model's own tensors, then what the image classifier adds: encoded images in, labelled top k out.
    expect(meta.inputs).toEqual([{ name: input.name, datatype: 'FP32', shape: dims(input.shape) }, { name: 'image', datatype: 'BYTES', shape: [-1] }]);
    expect(meta.inputs[0]?.shape).toEqual([-1, 3, 224, 224]);
    expect(meta.outputs).toEqual([{ name: output.name, datatype: 'FP32', shape: dims(output.shape) }, { name: 'classes', datatype: 'BYTES', shape: [-1] }]);
    expect((await v2('/models/mobilenet/versions/1.0')).status).toBe(200);
  });

  it('classifies an image sent as a BYTES input exactly as /predictions does', async () => {
    for (const image of [kitten, dog]) {
      const res = await inferJson(image);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { model_name: string; model_version: string; id: string; outputs: V2Output[] };
      expect(body).toMatchObject({ model_name: 'mobilenet', model_version: '1.0', id: 'req-1' });
      expect(body.outputs.map((o) => [o.name, o.datatype, o.shape])).toEqual([['output', 'FP32', [1, 1000]], ['classes', 'BYTES', [1]]]);
      expect(body.outputs[0]?.data).toHaveLength(1000);
      const viaV2 = JSON.parse(String(body.outputs[1]?.data?.[0]));
      expect(classes(viaV2)).toEqual(classes(await predict(image)));
    }
  });

  it('takes and returns tensors in the binary data extension', async () => {
    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', parameters: { binary_data_size: kitten.length + 4 } }],
        outputs: [{ name: 'classes', parameters: { binary_data: true } }],
      }),
    );
    const length = Buffer.alloc(4);
    length.writeUInt32LE(kitten.length);
    const res = await v2('/models/mobilenet/versions/1.0/infer', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
      body: Buffer.concat([header, length, kitten]),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    const body = Buffer.from(await res.arrayBuffer());
    const headLength = Number(res.headers.get('inference-header-content-length'));
    const head = JSON.parse(body.subarray(0, headLength).toString()) as { outputs: V2Output[] };
    const size = Number(head.outputs[0]?.parameters?.['binary_data_size']);
    expect(headLength + size).toBe(body.length);
    const tensor = body.subarray(headLength);
    const answer = JSON.parse(tensor.subarray(4, 4 + tensor.readUInt32LE(0)).toString());
    expect(classes(answer)).toEqual(classes(await predict(kitten)));
  });

  it.each([
    ['an unknown model', '/models/nope/infer', '{}', 404],
    ['an unknown version', '/models/mobilenet/versions/9/infer', '{}', 404],
    ['a body that is not JSON', '/models/mobilenet/infer', '{"inputs":', 400],
    ['data that does not fill the shape', '/models/mobilenet/infer', JSON.stringify({ inputs: [{ name: 'x', shape: [2], datatype: 'BYTES', data: ['a'] }] }), 400],
    ['an image the handler cannot decode', '/models/mobilenet/infer', JSON.stringify({ inputs: [{ name: 'x', shape: [1], datatype: 'BYTES', data: ['not an image'] }] }), 400],
  ])('answers %s in the protocol’s error form', async (_what, path, body, status) => {
    const res = await v2(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(status);
    const json = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(['error']);
    expect(typeof json['error']).toBe('string');
  });

  it('reports a model ready only while it has live workers', async () => {
    const scale = (n: number) => fetch(`${server.management}/models/mobilenet?min_worker=${n}&max_worker=1&synchronous=true`, { method: 'PUT' });
    expect((await scale(0)).status).toBe(200);
    const notReady = await v2('/models/mobilenet/ready');
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ name: 'mobilenet', ready: false });
    expect((await scale(1)).status).toBe(200);
    const ready = await v2('/models/mobilenet/versions/1.0/ready');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ name: 'mobilenet', ready: true });
  }, 60_000);

  it('counts exactly the requests sent, by version and status, with histograms', async () => {
    const labels = { model_name: 'mobilenet', model_version: '1.0' };
    const read = (text: string) => ({
      ok: metricValue(text, 'ts_inference_requests_total', { ...labels, status: '200' }) ?? 0,
      bad: metricValue(text, 'ts_inference_requests_total', { ...labels, status: '400' }) ?? 0,
      latency: metricValue(text, 'ts_request_latency_seconds_count', labels) ?? 0,
      inference: metricValue(text, 'ts_inference_latency_seconds_count', labels) ?? 0,
      batches: metricValue(text, 'ts_batch_size_count', labels) ?? 0,
    });
    const before = read(await scrape());
    await predict(kitten);
    await predict(dog);
    await predict(kitten);
    expect((await inferJson(kitten)).status).toBe(200);
    expect((await inferJson(dog)).status).toBe(200);
    const badShape = JSON.stringify({ inputs: [{ name: 'x', shape: [3], datatype: 'FP32', data: [1] }] });
    expect((await v2('/models/mobilenet/infer', { method: 'POST', headers: { 'content-type': 'application/json' }, body: badShape })).status).toBe(400);
    expect((await fetch(`${server.inference}/predictions/unknown`, { method: 'POST', body: kitten })).status).toBe(404);
    const res = await fetch(`${server.metrics}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const after = read(text);
    expect(after.ok - before.ok).toBe(5);
    expect(after.bad - before.bad).toBe(1);
    expect(after.latency - before.latency).toBe(6);
    expect(after.inference - before.inference).toBe(5);
    expect(after.batches - before.batches).toBe(5);
    expect(text).not.toContain('model_name="unknown"');
    expect(text).toContain('# TYPE ts_queue_latency_seconds histogram');
    expect(metricValue(text, 'ts_workers_alive', labels)).toBe(1);
    expect(metricValue(text, 'ts_queue_depth', labels)).toBe(0);
    expect(metricValue(text, 'process_resident_memory_bytes', {})).toBeGreaterThan(0);
    // The SDK's BaseHandler times its steps through context.metrics: handler metrics reach the scrape.
    expect(metricValue(text, 'ts_handler_preprocess_ms_count', labels)).toBeGreaterThanOrEqual(5);
  });
});
