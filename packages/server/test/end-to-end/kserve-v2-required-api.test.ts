import { buildClassifierArchive, startModelServer, type ModelServer } from '../../../../test/support/model-server.js';

/**
 * KServe's v2 required API (`../shared/reference/kserve/predict-api-v2/required_api.md`, HTTP/REST),
 * walked section by section against a real `model-server`; docs/api.md has the table this follows,
 * with the deviations it does not test as conformant.
 */
describe('KServe v2 required API, section by section', () => {
  let server: ModelServer;
  const get = (path: string) => fetch(`${server.inference}${path}`);
  const post = (path: string, body: unknown) =>
    fetch(`${server.inference}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  /** "A failed … request must be indicated by an HTTP error status … The HTTP body must contain … {"error": $string}." */
  const expectErrorObject = async (res: Response, status: number) => {
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['error']);
    expect(typeof body['error']).toBe('string');
  };
  const zeros = { name: 'input', shape: [1, 3, 224, 224], datatype: 'FP32', data: new Array(3 * 224 * 224).fill(0) };

  beforeAll(async () => {
    server = await startModelServer({ prepare: async (store) => void (await buildClassifierArchive(store)), models: ['mobilenet=mobilenet-1.0.mar'] });
  }, 120_000);
  afterAll(() => server?.stop());

  it('Health: server live, server ready and model ready answer 200 for true', async () => {
    for (const path of ['/v2/health/live', '/v2/health/ready', '/v2/models/mobilenet/ready', '/v2/models/mobilenet/versions/1.0/ready']) {
      expect([path, (await get(path)).status]).toEqual([path, 200]);
    }
  });

  it('Server Metadata: $metadata_server_response', async () => {
    const body = (await (await get('/v2')).json()) as Record<string, unknown>;
    expect(body).toEqual({ name: expect.any(String), version: expect.any(String), extensions: expect.any(Array) });
    expect((body['extensions'] as unknown[]).every((e) => typeof e === 'string')).toBe(true);
  });

  it('Model Metadata: $metadata_model_response with a "<project>_<format>" platform and $metadata_tensor inputs and outputs', async () => {
    for (const path of ['/v2/models/mobilenet', '/v2/models/mobilenet/versions/1.0']) {
      const body = (await (await get(path)).json()) as { name: string; versions: string[]; platform: string; inputs: unknown[]; outputs: unknown[] };
      expect(body).toEqual({ name: 'mobilenet', versions: ['1.0'], platform: 'onnxruntime_onnx', inputs: expect.any(Array), outputs: expect.any(Array) });
      expect(body.platform).toMatch(/^[a-z0-9]+_[a-z0-9]+$/);
      for (const tensor of [...body.inputs, ...body.outputs]) {
        expect(tensor).toEqual({ name: expect.any(String), datatype: expect.any(String), shape: expect.any(Array) });
      }
    }
  });

  it('Inference: $inference_response echoes "id", names the model and version, and gives $response_output tensors', async () => {
    for (const path of ['/v2/models/mobilenet/infer', '/v2/models/mobilenet/versions/1.0/infer']) {
      const res = await post(path, { id: '42', parameters: { trace: true }, inputs: [zeros], outputs: [{ name: 'output' }] });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { model_name: string; model_version: string; id: string; outputs: Array<Record<string, unknown>> };
      expect(body).toMatchObject({ model_name: 'mobilenet', model_version: '1.0', id: '42' });
      expect(body.outputs.map((o) => o['name'])).toEqual(['output']);
      for (const output of body.outputs) expect(output).toMatchObject({ shape: expect.any(Array), datatype: expect.any(String), data: expect.any(Array) });
    }
  });

  it('Tensor Data: takes the natural nested form as well as the flattened one', async () => {
    const nested = [Array.from({ length: 3 }, () => Array.from({ length: 224 }, () => new Array(224).fill(0)))];
    expect((await post('/v2/models/mobilenet/infer', { inputs: [{ ...zeros, data: nested }] })).status).toBe(200);
  });

  it('answers every failure with an error status and the $…_error_response object', async () => {
    await expectErrorObject(await get('/v2/models/nope'), 404);
    await expectErrorObject(await get('/v2/models/nope/ready'), 404);
    await expectErrorObject(await get('/v2/models/mobilenet/versions/9'), 404);
    await expectErrorObject(await post('/v2/models/nope/infer', { inputs: [zeros] }), 404);
    await expectErrorObject(await post('/v2/models/mobilenet/infer', '{"inputs": ['), 400);
    await expectErrorObject(await post('/v2/models/mobilenet/infer', { inputs: [{ ...zeros, data: [1, 2] }] }), 400);
    await expectErrorObject(await get('/v2/models/mobilenet/infer'), 404);
  });

  it('treats every string as case-sensitive: URLs, model names and datatypes', async () => {
    await expectErrorObject(await get('/v2/models/MobileNet'), 404);
    await expectErrorObject(await post('/v2/models/mobilenet/infer', { inputs: [{ ...zeros, datatype: 'fp32' }] }), 400);
    expect((await get('/V2/health/live')).status).toBe(404);
  });
});
