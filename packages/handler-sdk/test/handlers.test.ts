import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  BaseHandler, createContext, HandlerError, ImageClassifier, isTensorResponse, ModelFailed, preprocessImage, imagenetTransform,
  selectImageBackend, serve, type NamedTensor, type TensorResponse,
} from '@nodeserve/handler-sdk';
import { classesOf, image, labelOf, modelFixture, request, type RecordingContext } from '../../../test/support/handler-context.js';
import { stableTop1 } from '../../../test/support/imagenet-reference.js';

type Top = Array<Record<string, number>>;

async function imageTensor(name: string): Promise<NamedTensor> {
  const backend = await selectImageBackend({ debug() {}, info() {}, warn() {}, error() {} }, 'sharp');
  const data = await preprocessImage(image(name), backend, imagenetTransform(224));
  return { name: 'input', datatype: 'FP32', shape: [1, 3, 224, 224], data };
}

describe('ImageClassifier', () => {
  let fixture: RecordingContext;
  const classifier = new ImageClassifier();
  const served = serve(classifier);

  beforeAll(async () => {
    fixture = modelFixture({ extraFiles: ['synset.txt'], config: { handler: { topk: 3, maxImagePixels: 500_000 } } });
    await served.initialize(fixture.context);
  });
  afterAll(() => fixture.cleanup());

  it('labels from synset.txt, with the config default topk', async () => {
    const [result] = (await served.handle([request(image('Dog1.jpg'))], fixture.context)) as Top[];
    // Only the top-1 is stable across CPUs; places 2 and 3 hold probabilities near 0.01 that swap.
    expect(result).toHaveLength(3);
    expect(labelOf(result![0]!)).toBe(stableTop1('Dog1.jpg'));
    expect(result!.map(labelOf).every((label) => /^[A-Za-z][\w' -]*$/.test(label) && !label.includes('_'))).toBe(true);
  });

  it('applies the configured pixel limit', async () => {
    const [result] = await served.handle([request(image('bus.jpg'))], fixture.context);
    expect(result).toBeInstanceOf(HandlerError);
    expect((result as HandlerError).code).toBe('ImageTooLarge');
  });

  it('takes a v2 FP32 tensor of the model input shape instead of an image, alone or batched with images', async () => {
    const tensor = await imageTensor('pelican.jpeg');
    const [viaTensor, viaImage] = await served.handle(
      [request(new Uint8Array(0), { tensors: [tensor] }), request(image('bald_eagle.jpeg'))],
      fixture.context,
    );
    expect(labelOf(classesOf(viaTensor)[0]![0]!)).toBe(stableTop1('pelican.jpeg'));
    expect(labelOf((viaImage as Top)[0]!)).toBe(stableTop1('bald_eagle.jpeg'));
  });

  it('answers a v2 request with the tensors describe() advertises: the model output as it is, and the labelled top k', async () => {
    const jpeg = image('pelican.jpeg');
    const bytes: NamedTensor = { name: 'image', datatype: 'BYTES', shape: [1], data: [jpeg] };
    const [result] = await served.handle([request(jpeg, { tensors: [bytes] })], fixture.context);
    expect(isTensorResponse(result)).toBe(true);
    const outputs = (result as TensorResponse).outputs;
    expect(outputs.map((o) => [o.name, o.datatype, o.shape])).toEqual([['output', 'FP32', [1, 1000]], ['classes', 'BYTES', [1]]]);
    const scores = outputs[0]!.data as Float32Array;
    // The top-k list is the softmax of those scores, labelled: its first class is the highest score.
    const best = scores.indexOf(Math.max(...scores));
    const top = classesOf(result)[0]!;
    expect(labelOf(top[0]!)).toBe(stableTop1('pelican.jpeg'));
    expect(top).toHaveLength(3);
    const exp = Array.from(scores, (v) => Math.exp(v - scores[best]!));
    expect(Object.values(top[0]!)[0]).toBeCloseTo(1 / exp.reduce((a, b) => a + b, 0), 5);
  });

  it('classifies every image of a v2 BYTES input holding several: N images, N answers', async () => {
    const names = ['pelican.jpeg', 'croco.jpg', 'Dog1.jpg'];
    const bytes: NamedTensor = { name: 'image', datatype: 'BYTES', shape: [3], data: names.map(image) };
    const [result] = await served.handle([request(new Uint8Array(0), { tensors: [bytes] })], fixture.context);
    const outputs = (result as TensorResponse).outputs;
    expect(outputs.map((o) => o.shape)).toEqual([[3, 1000], [3]]);
    expect(classesOf(result).map((top) => labelOf(top[0]!))).toEqual(names.map(stableTop1));
  });

  it('takes base64 wherever a string can carry the image: a text body (wrapped, data: URI), a JSON string or {"data"}, a BYTES element sent as text', async () => {
    const jpeg = image('croco.jpg');
    const b64 = jpeg.toString('base64');
    const wrapped = b64.replace(/(.{76})/g, '$1\n');
    const text = (s: string) => new TextEncoder().encode(s);
    const results = await served.handle([
      request(text(wrapped + '\n'), { contentType: 'text/plain' }),
      request(text(`data:image/jpeg;base64,${b64}`)),
      request(text(jpeg.toString('base64url'))),
      request(text(JSON.stringify(b64)), { json: b64, contentType: 'application/json' }),
      request(text(JSON.stringify({ data: b64 })), { json: { data: b64 }, contentType: 'application/json' }),
      request(new Uint8Array(0), { tensors: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [text(b64)] }] }),
    ], fixture.context);
    const tops = results.map((r) => (Array.isArray(r) ? (r as Top) : r instanceof Error ? r : classesOf(r)[0]!));
    expect(tops.map((t) => (t instanceof Error ? t.message : labelOf(t[0]!)))).toEqual(new Array(6).fill(stableTop1('croco.jpg')));
  });

  it('refuses base64 of something that is not an image, and a form without an image field, saying which', async () => {
    const text = (s: string) => new TextEncoder().encode(s);
    const [notImage, form] = await served.handle([
      request(text(Buffer.from('just some words, long enough to be base64 of something').toString('base64'))),
      request(new Uint8Array(0), { form: { prompt: 'hello', n: '3' } }),
    ], fixture.context);
    expect([(notImage as HandlerError).code, (notImage as Error).message]).toEqual(['ImageUnreadable', expect.stringMatching(/base64 text, but what it encodes is not an image/)]);
    expect([(form as HandlerError).code, (form as Error).message]).toEqual(['ImageUnreadable', expect.stringMatching(/"prompt", "n" but no image in "data"/)]);
  });

  it('refuses v2 inputs it does not take, by name, and the tensor and images together', async () => {
    const jpeg = image('pelican.jpeg');
    const tensor = await imageTensor('pelican.jpeg');
    const img: NamedTensor = { name: 'image', datatype: 'BYTES', shape: [1], data: [jpeg] };
    const results = await served.handle([
      request(jpeg, { tensors: [img, { name: 'foo', datatype: 'BYTES', shape: [1], data: [jpeg] }] }),
      request(jpeg, { tensors: [{ ...img, name: 'picture' }] }),
      request(jpeg, { tensors: [tensor, img] }),
    ], fixture.context);
    expect(results.map((r) => (r as HandlerError).code)).toEqual(['InvalidInput', 'InvalidInput', 'InvalidInput']);
    expect((results[0] as Error).message).toMatch(/no input "foo"; its inputs are "input", "image"/);
    expect((results[1] as Error).message).toMatch(/no input "picture"/);
    expect((results[2] as Error).message).toMatch(/either the tensor "input" or the images "image", not both/);
  });

  it('answers one list per row for a v2 tensor holding several images', async () => {
    const [a, b] = [await imageTensor('pelican.jpeg'), await imageTensor('croco.jpg')];
    const both = new Float32Array(a.data.length * 2);
    both.set(a.data as Float32Array);
    both.set(b.data as Float32Array, a.data.length);
    const [result] = await served.handle(
      [request(new Uint8Array(0), { tensors: [{ name: 'input', datatype: 'FP32', shape: [2, 3, 224, 224], data: both }] })],
      fixture.context,
    );
    expect(classesOf(result).map((rows) => labelOf(rows[0]!))).toEqual([stableTop1('pelican.jpeg'), stableTop1('croco.jpg')]);
  });

  it('rejects v2 tensors of the wrong datatype or shape with InvalidInput', async () => {
    const results = await served.handle([
      request(new Uint8Array(0), { tensors: [{ name: 'input', datatype: 'INT32', shape: [1, 3], data: new Int32Array(3) }] }),
      request(new Uint8Array(0), { tensors: [{ name: 'input', datatype: 'FP32', shape: [1, 3, 32, 32], data: new Float32Array(3 * 32 * 32) }] }),
      request(new Uint8Array(0), { tensors: [{ name: 'input', datatype: 'FP32', shape: [1, 3, 224, 224], data: new Float32Array(5) }] }),
    ], fixture.context);
    expect(results.map((r) => (r as HandlerError).code)).toEqual(['InvalidInput', 'InvalidInput', 'InvalidInput']);
    expect((results[1] as Error).message).toMatch(/must be FP32 \[-1, 3, 224, 224\]/);
  });

  it('records preprocess, inference and postprocess timings', () => {
    const names = new Set(fixture.observed.map((o) => o.name));
    expect(names).toEqual(new Set(['handler_preprocess_ms', 'handler_inference_ms', 'handler_postprocess_ms']));
  });

  it('describes the model through serve(): its own tensors, the image input and the labelled top k', () => {
    expect(served.describe()?.inputs).toEqual([
      { name: 'input', datatype: 'FP32', shape: [-1, 3, 224, 224] },
      { name: 'image', datatype: 'BYTES', shape: [-1] },
    ]);
    expect(served.describe()?.outputs).toEqual([
      { name: 'output', datatype: 'FP32', shape: [-1, 1000] },
      { name: 'classes', datatype: 'BYTES', shape: [-1] },
    ]);
  });
});

describe('BaseHandler', () => {
  let fixture: RecordingContext;
  beforeAll(() => {
    fixture = modelFixture();
  });
  afterAll(() => fixture.cleanup());

  it('answers v2 tensors with each request’s rows of every output', async () => {
    const handler = new BaseHandler();
    await handler.initialize(fixture.context);
    const tensor = await imageTensor('kitten.jpg');
    const results = await handler.handle([request(new Uint8Array(0), { tensors: [tensor] }), request(new Uint8Array(0), { tensors: [tensor] })]);
    expect(results.every(isTensorResponse)).toBe(true);
    const [first, second] = results as TensorResponse[];
    expect(first!.outputs[0]).toMatchObject({ name: 'output', datatype: 'FP32', shape: [1, 1000] });
    const logits = first!.outputs[0]!.data as Float32Array;
    expect(logits.indexOf(Math.max(...logits))).toBe(281);
    expect(Array.from(second!.outputs[0]!.data as Float32Array)).toEqual(Array.from(logits));
  });

  it('tells a client sending an image that this model takes tensors', async () => {
    const handler = new BaseHandler();
    await handler.initialize(fixture.context);
    const [result] = await handler.handle([request(image('kitten.jpg'))]);
    expect((result as HandlerError).code).toBe('InvalidInput');
    expect((result as Error).message).toMatch(/tensor input "input" \(FP32 \[-1, 3, 224, 224\]\)/);
  });

  it('fails every request of a batch whose inference fails with ModelFailed, and logs it', async () => {
    class Broken extends BaseHandler {
      override async inference(): Promise<never> {
        throw new RangeError('out of memory');
      }
    }
    const handler = new Broken();
    await handler.initialize(fixture.context);
    const tensor = await imageTensor('kitten.jpg');
    const results = await handler.handle([request(new Uint8Array(0), { tensors: [tensor] }), request(new Uint8Array(0))]);
    expect(results[0]).toBeInstanceOf(ModelFailed);
    expect([(results[0] as ModelFailed).status, (results[0] as ModelFailed).code]).toEqual([500, 'ModelFailed']);
    expect((results[0] as Error).message).toMatch(/inference failed: out of memory/);
    expect((results[1] as HandlerError).code).toBe('InvalidInput');
    expect(fixture.logs).toContainEqual(expect.objectContaining({ level: 'error', msg: 'batch failed' }));
  });

  it('refuses to handle before initialize', async () => {
    await expect(new BaseHandler().handle([request(new Uint8Array(1))])).rejects.toThrow(/before initialize/);
  });
});

describe('createContext', () => {
  it('exposes system properties, manifest, names and config', () => {
    const { context, cleanup } = modelFixture({ gpuId: 0, config: { batchSize: 8, allowCpuFallback: true } });
    cleanup();
    expect(context.systemProperties).toMatchObject({ gpuId: 0, batchSize: 8, serverName: 'nodeserve', serverVersion: '0.1.0' });
    expect([context.modelName, context.modelVersion]).toEqual(['mobilenet', '1.0']);
    expect(context.config.allowCpuFallback).toBe(true);
  });

  it('refuses an invalid model config with ModelFailed naming the key', () => {
    const { context, cleanup } = modelFixture();
    cleanup();
    expect(() => createContext({
      modelDir: '/nonexistent', manifest: context.manifest, config: { intraOpNumThreads: 0 }, serverName: 's', serverVersion: '1',
      logger: context.logger, metrics: context.metrics,
    })).toThrow(/invalid model config: intraOpNumThreads/);
  });
});
