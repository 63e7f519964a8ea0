import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { imagenetTransform, preprocessImage, selectImageBackend } from '@nodeserve/handler-sdk';
import { SHARED_IMAGES, stableTop1 } from '../../../../test/support/imagenet-reference.js';
import { buildClassifierArchive, classes, metricValue, startModelServer, type ModelServer } from '../../../../test/support/model-server.js';
import { callWithPython, generateStubs, pythonWithGrpc, type GrpcCall, type GrpcResult } from '../../../../test/support/python-grpc.js';

/** Photos whose top-1 is the same on every CPU and decoder (test/support/imagenet-reference.ts). */
const PHOTOS = ['Dog1.jpg', 'pelican.jpeg', 'croco.jpg'];
/** Small enough that a message over it is quick to build, large enough for an FP32 224×224 image (602,112 bytes). */
const MAX_REQUEST_SIZE = 1_000_000;

const b64 = (bytes: ArrayBufferView) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** The classifier's answer (`[{"label": p}, …]`) from a BYTES output, in typed contents or raw (length-prefixed). */
function answerOf(result: GrpcResult): unknown {
  const response = result.response ?? {};
  const typed = response['outputs']?.[0]?.contents?.bytes_contents?.[0] as string | undefined;
  if (typed !== undefined) return JSON.parse(Buffer.from(typed, 'base64').toString());
  const raw = Buffer.from(response['raw_output_contents']?.[0] as string, 'base64');
  return JSON.parse(raw.subarray(4, 4 + raw.readUInt32LE(0)).toString());
}

/**
 * The Open Inference Protocol's gRPC service against a real `model-server`, called by an independent
 * client: Python's grpcio with stubs that grpcio-tools generates from the server's proto.
 */
describe('gRPC inference service, through Python grpcio stubs generated from the proto', () => {
  let server: ModelServer;
  let python: string;
  let stubs: string;
  const grpc = (calls: GrpcCall[]) => callWithPython(python, stubs, server.grpcInference, calls);
  const v2 = async (url: string) => (await fetch(`${server.inference}/v2${url}`)).json() as Promise<Record<string, any>>;
  const predictTop1 = async (image: Buffer) => classes(await (await fetch(`${server.inference}/predictions/mobilenet`, { method: 'POST', body: image })).json())[0];
  const bytesInfer = (image: Buffer, id = 'req-1') => ({
    model_name: 'mobilenet',
    id,
    inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [b64(image)] } }],
  });

  beforeAll(async () => {
    stubs = await mkdtemp(path.join(tmpdir(), 'nodeserve-grpc-stubs-'));
    // The venv is made once per machine (pip from the configured index); the server starts meanwhile.
    const [venvPython, started] = await Promise.all([
      pythonWithGrpc(),
      startModelServer({
        config: { max_request_size: MAX_REQUEST_SIZE },
        prepare: async (store) => void (await buildClassifierArchive(store)),
        models: ['mobilenet=mobilenet-1.0.mar'],
      }),
    ]);
    python = venvPython;
    server = started;
    await generateStubs(python, stubs);
  }, 300_000);
  afterAll(async () => {
    await server?.stop();
    await rm(stubs, { recursive: true, force: true });
  });

  it('answers liveness, readiness and server metadata as the REST API does', async () => {
    const [live, ready, metadata] = await grpc([{ method: 'ServerLive' }, { method: 'ServerReady' }, { method: 'ServerMetadata' }]);
    expect(live).toMatchObject({ code: 'OK', response: { live: true } });
    expect(ready).toMatchObject({ code: 'OK', response: { ready: true } });
    const rest = await v2('');
    expect(metadata?.response).toEqual({ name: rest['name'], version: rest['version'] });
  });

  it('describes the model as REST /v2/models/mobilenet does, and reports it ready', async () => {
    const [metadata, byVersion, ready, readyVersion] = await grpc([
      { method: 'ModelMetadata', request: { name: 'mobilenet' } },
      { method: 'ModelMetadata', request: { name: 'mobilenet', version: '1.0' } },
      { method: 'ModelReady', request: { name: 'mobilenet' } },
      { method: 'ModelReady', request: { name: 'mobilenet', version: '1.0' } },
    ]);
    const rest = await v2('/models/mobilenet');
    const shapes = (tensors: Array<{ shape: Array<string | number> }>) => tensors.map((t) => ({ ...t, shape: t.shape.map(Number) }));
    const answer = metadata?.response as Record<string, any>;
    expect({ ...answer, inputs: shapes(answer['inputs']), outputs: shapes(answer['outputs']) }).toEqual(rest);
    expect(rest['inputs']).toEqual([{ name: 'input', datatype: 'FP32', shape: [-1, 3, 224, 224] }]);
    expect(byVersion?.response).toEqual(answer);
    expect(ready?.response).toEqual({ ready: true });
    expect(readyVersion?.response).toEqual({ ready: true });
  });

  it('classifies photos sent as JPEG BYTES in contents and as FP32 tensors in raw_input_contents, with the top-1 of /predictions', async () => {
    const backend = await selectImageBackend(quiet);
    const images = await Promise.all(PHOTOS.map((photo) => readFile(path.join(SHARED_IMAGES, photo))));
    const tensors = await Promise.all(images.map((image) => preprocessImage(image, backend, imagenetTransform(224))));
    const calls: GrpcCall[] = images.flatMap((image, i) => [
      { method: 'ModelInfer', request: bytesInfer(image, `bytes-${i}`) },
      {
        method: 'ModelInfer',
        request: {
          model_name: 'mobilenet',
          model_version: '1.0',
          id: `tensor-${i}`,
          inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3, 224, 224] }],
          raw_input_contents: [b64(tensors[i] as Float32Array)],
        },
      },
    ]);
    const results = await grpc(calls);
    for (const [i, photo] of PHOTOS.entries()) {
      const [asBytes, asTensor] = [results[2 * i], results[2 * i + 1]] as [GrpcResult, GrpcResult];
      expect([photo, asBytes.code, asTensor.code]).toEqual([photo, 'OK', 'OK']);
      expect(asBytes.response).toMatchObject({ model_name: 'mobilenet', model_version: '1.0', id: `bytes-${i}`, outputs: [{ name: 'output', datatype: 'BYTES', shape: ['1'] }] });
      // Inputs sent raw are answered raw, typed contents in typed contents.
      expect(asBytes.response?.['raw_output_contents']).toBeUndefined();
      expect(asTensor.response?.['raw_output_contents']).toHaveLength(1);
      expect(asTensor.response?.['outputs']?.[0]?.contents).toBeUndefined();
      expect(asBytes.initial['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      const top1 = stableTop1(photo);
      expect([photo, classes(answerOf(asBytes))[0], classes(answerOf(asTensor))[0]]).toEqual([photo, top1, top1]);
      expect(await predictTop1(images[i] as Buffer)).toBe(top1);
    }
  });

  it('refuses malformed messages, wrong shapes, unknown models and oversized messages with their status codes, and keeps serving', async () => {
    const kitten = await readFile(path.join(SHARED_IMAGES, 'kitten.jpg'));
    const fp32 = (shape: number[], contents: Record<string, unknown>) => ({ model_name: 'mobilenet', inputs: [{ name: 'input', datatype: 'FP32', shape, contents }] });
    const results = await grpc([
      // model_name "abc", then an input (field 5) that claims 5 bytes where 1 follows.
      { method: 'ModelInfer', raw_request: b64(Buffer.from([0x0a, 0x03, 0x61, 0x62, 0x63, 0x2a, 0x05, 0x0a])) },
      { method: 'ModelInfer', request: fp32([1, 3, 8, 8], { fp32_contents: new Array(192).fill(0) }) },
      { method: 'ModelInfer', request: fp32([3], { fp32_contents: [1, 2] }) },
      { method: 'ModelInfer', request: fp32([2], { int_contents: [1, 2] }) },
      { method: 'ModelInfer', request: { ...bytesInfer(kitten), inputs: [{ name: 'image', datatype: 'FP99', shape: [1] }] } },
      { method: 'ModelInfer', request: { ...bytesInfer(kitten), model_name: 'nope' } },
      { method: 'ModelInfer', request: { ...bytesInfer(kitten), model_version: '9' } },
      { method: 'ModelMetadata', request: { name: 'nope' } },
      {
        method: 'ModelInfer',
        request: { model_name: 'mobilenet', inputs: [{ name: 'input', datatype: 'UINT8', shape: [MAX_REQUEST_SIZE + 1] }], raw_input_contents: [b64(Buffer.alloc(MAX_REQUEST_SIZE + 1))] },
      },
      { method: 'ModelInfer', request: bytesInfer(kitten), timeout: 0.001 },
      { method: 'ServerReady' },
      { method: 'ModelInfer', request: bytesInfer(kitten) },
    ]);
    expect(results.map((r) => r.code)).toEqual([
      'INVALID_ARGUMENT',
      'INVALID_ARGUMENT',
      'INVALID_ARGUMENT',
      'INVALID_ARGUMENT',
      'INVALID_ARGUMENT',
      'NOT_FOUND',
      'NOT_FOUND',
      'NOT_FOUND',
      'RESOURCE_EXHAUSTED',
      'DEADLINE_EXCEEDED',
      'OK',
      'OK',
    ]);
    const [malformed, wrongShape, short, misplaced, datatype, unknown] = results as GrpcResult[];
    expect(malformed?.details).toMatch(/not a valid protobuf message/);
    expect(wrongShape?.details).toMatch(/must be FP32 \[-1, 3, 224, 224\]/);
    expect(short?.details).toBe('Input "input" has 2 elements in contents.fp32_contents, but its shape [3] needs 3');
    expect(misplaced?.details).toMatch(/go in contents\.fp32_contents, but it has contents\.int_contents/);
    expect(datatype?.details).toMatch(/inputs\.0\.datatype/);
    expect(unknown?.details).toBe('Model not found: nope');
    // Clients match on the catalogue's stable code, as on REST's `type`.
    expect(results.slice(0, 8).map((r) => r.trailing['error-type'])).toEqual([
      'BadRequest', 'InvalidInput', 'BadRequest', 'BadRequest', 'BadRequest', 'ModelNotFound', 'ModelNotFound', 'ModelNotFound',
    ]);
    expect(results[10]?.response).toEqual({ ready: true });
  });

  it('counts ModelInfer calls in the request metrics REST requests go to, by the status REST would answer', async () => {
    const labels = { model_name: 'mobilenet', model_version: '1.0' };
    const read = async () => {
      const text = await (await fetch(`${server.metrics}/metrics`)).text();
      return {
        ok: metricValue(text, 'ts_inference_requests_total', { ...labels, status: '200' }) ?? 0,
        bad: metricValue(text, 'ts_inference_requests_total', { ...labels, status: '400' }) ?? 0,
        inference: metricValue(text, 'ts_inference_latency_seconds_count', labels) ?? 0,
      };
    };
    const kitten = await readFile(path.join(SHARED_IMAGES, 'kitten.jpg'));
    const before = await read();
    const results = await grpc([
      { method: 'ModelInfer', request: bytesInfer(kitten) },
      { method: 'ModelInfer', request: bytesInfer(kitten) },
      { method: 'ModelInfer', request: { model_name: 'mobilenet', inputs: [{ name: 'x', datatype: 'FP32', shape: [2], contents: { fp32_contents: [1] } }] } },
      { method: 'ModelInfer', request: { ...bytesInfer(kitten), model_name: 'unknown' } },
    ]);
    expect(results.map((r) => r.code)).toEqual(['OK', 'OK', 'INVALID_ARGUMENT', 'NOT_FOUND']);
    const after = await read();
    expect([after.ok - before.ok, after.bad - before.bad, after.inference - before.inference]).toEqual([2, 1, 2]);
  });
});
