import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { imagenetTransform, preprocessImage, selectImageBackend } from '@nodeserve/handler-sdk';
import { displayLabel, SHARED_IMAGES, SHARED_MODELS, stableTop1 } from '../../../../test/support/imagenet-reference.js';
import { archiveHandler, buildClassifierArchive, classes, FIXTURES, metricValue, startModelServer, type ModelServer } from '../../../../test/support/model-server.js';
import { callWithPython, generateStubs, pythonWithGrpc, type GrpcCall, type GrpcResult } from '../../../../test/support/python-grpc.js';

/** Photos whose top-1 is the same on every CPU and decoder (test/support/imagenet-reference.ts). */
const PHOTOS = ['Dog1.jpg', 'pelican.jpeg', 'croco.jpg'];
/** Small enough that a message over it is quick to build, large enough for an FP32 224×224 image (602,112 bytes). */
const MAX_REQUEST_SIZE = 1_000_000;

const b64 = (bytes: ArrayBufferView) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

interface Output {
  name: string;
  datatype: string;
  shape: number[];
  /** FP32 outputs: the elements, row-major. */
  scores?: Float32Array;
  /** BYTES outputs: the elements. */
  items?: Buffer[];
}

/** A ModelInfer answer's outputs, each read from its typed contents or from raw_output_contents (little-endian, length-prefixed BYTES). */
function outputsOf(result: GrpcResult): Output[] {
  const response = result.response ?? {};
  const raw = response['raw_output_contents'] as string[] | undefined;
  return (response['outputs'] as Array<Record<string, any>>).map((tensor, i) => {
    const out: Output = { name: tensor['name'], datatype: tensor['datatype'], shape: (tensor['shape'] as string[]).map(Number) };
    if (raw !== undefined) {
      const bytes = Buffer.from(raw[i] as string, 'base64');
      if (out.datatype === 'FP32') out.scores = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      if (out.datatype === 'BYTES') {
        out.items = [];
        for (let at = 0; at < bytes.length; at += 4 + bytes.readUInt32LE(at)) out.items.push(bytes.subarray(at + 4, at + 4 + bytes.readUInt32LE(at)));
      }
    } else {
      if (out.datatype === 'FP32') out.scores = Float32Array.from(tensor['contents']?.['fp32_contents'] ?? []);
      if (out.datatype === 'BYTES') out.items = (tensor['contents']?.['bytes_contents'] as string[] ?? []).map((b) => Buffer.from(b, 'base64'));
    }
    return out;
  });
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

  let labels: Record<string, [string, string]>;
  /** Each image's top-1, from the classifier's `classes` (its labelled top k as JSON text per image). */
  const classesTop1 = (output: Output | undefined) => (output?.items ?? []).map((text) => classes(JSON.parse(text.toString()))[0]);
  /** Each image's top-1, from the argmax of the model's own `output` row, as Triton's `as_numpy('output')` is read. */
  const outputTop1 = (output: Output | undefined) => {
    const scores = output?.scores ?? new Float32Array(0);
    const rows = output?.shape[0] ?? 0;
    const width = rows === 0 ? 0 : scores.length / rows;
    return Array.from({ length: rows }, (_, r) => {
      const row = scores.subarray(r * width, (r + 1) * width);
      return displayLabel(labels[String(row.indexOf(Math.max(...row)))]![1]);
    });
  };

  beforeAll(async () => {
    labels = JSON.parse(await readFile(path.join(SHARED_MODELS, 'index_to_name.json'), 'utf8')) as typeof labels;
    stubs = await mkdtemp(path.join(tmpdir(), 'nodeserve-grpc-stubs-'));
    // The venv is made once per machine (pip from the configured index); the server starts meanwhile.
    const [venvPython, started] = await Promise.all([
      pythonWithGrpc(),
      startModelServer({
        config: { max_request_size: MAX_REQUEST_SIZE },
        prepare: async (store) => {
          await buildClassifierArchive(store);
          await archiveHandler(store, path.join(FIXTURES, 'mis-described.mjs'), { name: 'misdescribed' });
        },
        models: ['mobilenet=mobilenet-1.0.mar', 'misdescribed.mar'],
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
    expect(rest['inputs']).toEqual([{ name: 'input', datatype: 'FP32', shape: [-1, 3, 224, 224] }, { name: 'image', datatype: 'BYTES', shape: [-1] }]);
    expect(rest['outputs']).toEqual([{ name: 'output', datatype: 'FP32', shape: [-1, 1000] }, { name: 'classes', datatype: 'BYTES', shape: [-1] }]);
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
      expect(asBytes.response).toMatchObject({ model_name: 'mobilenet', model_version: '1.0', id: `bytes-${i}` });
      // The outputs the metadata advertises, with its datatypes and shapes, whichever way the input came.
      for (const answer of [asBytes, asTensor]) {
        expect(outputsOf(answer).map((o) => [o.name, o.datatype, o.shape])).toEqual([['output', 'FP32', [1, 1000]], ['classes', 'BYTES', [1]]]);
      }
      // Inputs sent raw are answered raw, typed contents in typed contents.
      expect(asBytes.response?.['raw_output_contents']).toBeUndefined();
      expect(asTensor.response?.['raw_output_contents']).toHaveLength(2);
      expect(asTensor.response?.['outputs']?.[0]?.contents).toBeUndefined();
      expect(asBytes.initial['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      const top1 = stableTop1(photo);
      const [bytesOutput, bytesClasses] = outputsOf(asBytes);
      const [tensorOutput, tensorClasses] = outputsOf(asTensor);
      expect([photo, classesTop1(bytesClasses), outputTop1(bytesOutput), classesTop1(tensorClasses), outputTop1(tensorOutput)]).toEqual([
        photo, [top1], [top1], [top1], [top1],
      ]);
      expect(await predictTop1(images[i] as Buffer)).toBe(top1);
    }
  });

  it('answers N images in one BYTES input with N rows in each output, and only the outputs asked for', async () => {
    const images = await Promise.all(PHOTOS.map((photo) => readFile(path.join(SHARED_IMAGES, photo))));
    const all = { model_name: 'mobilenet', inputs: [{ name: 'image', datatype: 'BYTES', shape: [images.length], contents: { bytes_contents: images.map(b64) } }] };
    const [both, classesOnly, outputRaw] = await grpc([
      { method: 'ModelInfer', request: all },
      { method: 'ModelInfer', request: { ...all, outputs: [{ name: 'classes' }] } },
      { method: 'ModelInfer', request: { ...all, outputs: [{ name: 'output' }], parameters: { binary_data_output: { bool_param: true } } } },
    ]);
    expect([both?.code, classesOnly?.code, outputRaw?.code]).toEqual(['OK', 'OK', 'OK']);
    const n = images.length;
    expect(outputsOf(both!).map((o) => [o.name, o.datatype, o.shape])).toEqual([['output', 'FP32', [n, 1000]], ['classes', 'BYTES', [n]]]);
    const expected = PHOTOS.map(stableTop1);
    expect(classesTop1(outputsOf(both!)[1])).toEqual(expected);
    expect(outputTop1(outputsOf(both!)[0])).toEqual(expected);
    expect(outputsOf(classesOnly!).map((o) => o.name)).toEqual(['classes']);
    expect(classesTop1(outputsOf(classesOnly!)[0])).toEqual(expected);
    expect(outputRaw?.response?.['raw_output_contents']).toHaveLength(1);
    expect(outputTop1(outputsOf(outputRaw!)[0])).toEqual(expected);
  });

  it('holds requests and answers to the model metadata, as REST /v2 does', async () => {
    const kitten = await readFile(path.join(SHARED_IMAGES, 'kitten.jpg'));
    const image = { name: 'image', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [b64(kitten)] } };
    const results = await grpc([
      { method: 'ModelInfer', request: { model_name: 'mobilenet', inputs: [image, { name: 'foo', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [b64(Buffer.from('x'))] } }] } },
      { method: 'ModelInfer', request: { model_name: 'mobilenet', inputs: [{ ...image, name: 'picture' }] } },
      { method: 'ModelInfer', request: { model_name: 'mobilenet', inputs: [{ name: 'input', datatype: 'INT32', shape: [1], contents: { int_contents: [1] } }] } },
      { method: 'ModelInfer', request: { model_name: 'mobilenet', inputs: [image], outputs: [{ name: 'probabilities' }] } },
      { method: 'ModelInfer', request: { model_name: 'misdescribed', inputs: [{ name: 'x', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [b64(Buffer.from('a'))] } }] } },
    ]);
    expect(results.map((r) => [r.code, r.trailing['error-type']])).toEqual([
      ['INVALID_ARGUMENT', 'BadRequest'],
      ['INVALID_ARGUMENT', 'BadRequest'],
      ['INVALID_ARGUMENT', 'BadRequest'],
      ['INVALID_ARGUMENT', 'BadRequest'],
      ['INTERNAL', 'InvalidHandlerOutput'],
    ]);
    const [extra, misnamed, mistyped, unknownOutput, misdescribed] = results.map((r) => r.details);
    expect(extra).toMatch(/has no input "foo"; its inputs are "input", "image"/);
    expect(misnamed).toMatch(/has no input "picture"/);
    expect(mistyped).toMatch(/Input "input" of model "mobilenet" is FP32, not INT32/);
    expect(unknownOutput).toMatch(/has no output "probabilities"; its outputs are "output", "classes"/);
    expect(misdescribed).toMatch(/answered output "output" as BYTES \[1\], but its metadata advertises FP32 \[-1,2\]/);
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
