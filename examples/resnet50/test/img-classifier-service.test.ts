import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HandlerError, ImageClassifier, preprocessImage } from '@nodeserve/handler-sdk';
import sharp from 'sharp';
import { ImgClassifierService } from '../img_classifier_service.js';
import { GraphBuilder, tensorValueInfo } from '../scripts/onnx/graph-builder.js';
import { encodeModel } from '../scripts/onnx/onnx-proto.js';
import { classesOf, image, labelOf, modelFixture, request, top1Of, type RecordingContext } from '../../../test/support/handler-context.js';
import { contenders, referenceTop5, stableTop1 } from '../../../test/support/imagenet-reference.js';

type Top = Array<Record<string, number>>;

/**
 * The smallest ImageNet-style classifier with a `side`×`side` input: global average pool per
 * channel, then a dense layer to `classes` logits. Enough to show the handler sizes crops from the model.
 */
function tinyClassifier(side: number, classes: number): Uint8Array {
  const graph = new GraphBuilder();
  const weights = Float32Array.from({ length: classes * 3 }, (_, i) => ((i * 7) % 11) / 11 - 0.5);
  const pooled = graph.node('GlobalAveragePool', 'pool', ['pixels']);
  const flat = graph.node('Flatten', 'flatten', [pooled], { axis: 1 });
  graph.node('Gemm', 'dense', [flat, graph.initializer('w', [classes, 3], weights), graph.initializer('b', [classes], new Float32Array(classes))], { transB: 1 }, 'scores');
  return encodeModel({
    ir_version: 7,
    opset_import: [{ domain: '', version: 13 }],
    producer_name: 'nodeserve-test',
    producer_version: '0.1.0',
    model_version: 1,
    doc_string: '',
    graph: graph.build('tiny', [tensorValueInfo('pixels', ['N', 3, side, side])], [tensorValueInfo('scores', ['N', classes])], false),
    metadata_props: [],
  });
}

const photos = [...referenceTop5().keys()];

async function service(imageBackend: 'sharp' | 'jimp'): Promise<{ handler: ImgClassifierService; fixture: RecordingContext }> {
  const fixture = modelFixture({ config: { handler: { imageBackend } } });
  const handler = new ImgClassifierService();
  await handler.initialize(fixture.context);
  return { handler, fixture };
}

describe('examples/resnet50 img_classifier_service on MobileNetV2-int8', () => {
  let withSharp: Awaited<ReturnType<typeof service>>;
  let withJimp: Awaited<ReturnType<typeof service>>;

  beforeAll(async () => {
    withSharp = await service('sharp');
    withJimp = await service('jimp');
  });
  afterAll(() => {
    withSharp.fixture.cleanup();
    withJimp.fixture.cleanup();
  });

  it('has a reference classification for all nine sample photos', () => {
    expect(photos).toHaveLength(9);
  });

  it.each(photos.map((name) => [name, contenders(name).join(' or ')] as const))('classifies %s as %s (sharp), top 5 highest first', async (name) => {
    const [result] = (await withSharp.handler.handle([request(image(name))], withSharp.fixture.context)) as Top[];
    expect(result).toHaveLength(5);
    expect(contenders(name)).toContain(labelOf(result![0]!));
    const probabilities = result!.map((entry) => Object.values(entry)[0]!);
    expect([...probabilities].sort((a, b) => b - a)).toEqual(probabilities);
  });

  it('answers the MMS tutorial shape for kitten.jpg: {label: probability} entries, a cat first', async () => {
    const [result] = (await withSharp.handler.handle([request(image('kitten.jpg'))], withSharp.fixture.context)) as Top[];
    expect(result!.every((entry) => Object.keys(entry).length === 1)).toBe(true);
    expect(contenders('kitten.jpg')).toContain(labelOf(result![0]!));
    const probabilities = result!.map((entry) => Object.values(entry)[0]!);
    expect(probabilities.every((p) => typeof p === 'number' && p > 0 && p <= 1)).toBe(true);
    expect(probabilities.reduce((a, b) => a + b)).toBeLessThanOrEqual(1 + 1e-6);
  });

  // Same machine, same kernels, same pixels: a batch row and a single call agree to float rounding.
  it('gives a batch of N the same answers as N single calls', async () => {
    const names = photos;
    const batch = (await withSharp.handler.handle(names.map((n) => request(image(n))), withSharp.fixture.context)) as Top[];
    expect(batch).toHaveLength(names.length);
    for (const [i, name] of names.entries()) {
      const [single] = (await withSharp.handler.handle([request(image(name))], withSharp.fixture.context)) as Top[];
      expect(batch[i]!.map(labelOf)).toEqual(single!.map(labelOf));
      batch[i]!.forEach((entry, k) => expect(Object.values(entry)[0]!).toBeCloseTo(Object.values(single![k]!)[0]!, 4));
    }
  });

  // The decoders resize differently, so close calls may go either way (bus.jpg does); each must still
  // put a reference contender first, and agree with sharp wherever the top-1 is stable.
  it('classifies every photo with the jimp (pure JavaScript) decoder too', async () => {
    expect(withJimp.handler.imageBackend.name).toBe('jimp');
    const viaJimp = (await withJimp.handler.handle(photos.map((n) => request(image(n))), withJimp.fixture.context)) as Top[];
    const viaSharp = (await withSharp.handler.handle(photos.map((n) => request(image(n))), withSharp.fixture.context)) as Top[];
    photos.forEach((name, i) => {
      const [jimpTop1, sharpTop1] = [top1Of(viaJimp[i]), top1Of(viaSharp[i])];
      expect([name, contenders(name)]).toEqual([name, expect.arrayContaining([jimpTop1])]);
      if (contenders(name).length === 1) expect([name, jimpTop1]).toEqual([name, sharpTop1]);
    });
  });

  it('honours ?topk= and {"topk"} per request', async () => {
    const kitten = image('kitten.jpg');
    // A JSON body carries the image as base64, beside its topk.
    const json = { topk: 1, data: kitten.toString('base64') };
    const results = (await withSharp.handler.handle(
      [
        request(kitten, { query: { topk: '2' } }),
        request(new TextEncoder().encode(JSON.stringify(json)), { json, contentType: 'application/json' }),
        request(kitten),
      ],
      withSharp.fixture.context,
    )) as Top[];
    expect(results.map((r) => r.length)).toEqual([2, 1, 5]);
  });

  it('takes a v2 FP32 tensor of the model input shape as it is, with the same answer as the image it was made from', async () => {
    const side = withSharp.handler.transform().crop;
    const photos = ['kitten.jpg', 'croco.jpg'];
    const tensors = await Promise.all(photos.map(async (name) => ({
      name: 'input', datatype: 'FP32' as const, shape: [1, 3, side, side],
      data: await preprocessImage(image(name), withSharp.handler.imageBackend, withSharp.handler.transform()),
    })));
    const viaTensors = (await withSharp.handler.handle(tensors.map((t) => request(new Uint8Array(0), { tensors: [t] })), withSharp.fixture.context)).map((r) => classesOf(r)[0]!);
    const viaImages = (await withSharp.handler.handle(photos.map((name) => request(image(name))), withSharp.fixture.context)) as Top[];
    expect(contenders('kitten.jpg')).toContain(labelOf(viaTensors[0]![0]!));
    expect(labelOf(viaTensors[1]![0]!)).toBe(stableTop1('croco.jpg'));
    viaTensors.forEach((result, i) => {
      expect(result.map(labelOf)).toEqual(viaImages[i]!.map(labelOf));
      result.forEach((entry, k) => expect(Object.values(entry)[0]!).toBeCloseTo(Object.values(viaImages[i]![k]!)[0]!, 5));
    });
  });

  it('refuses a v2 tensor of the wrong shape with a message naming the model input', async () => {
    const [result] = await withSharp.handler.handle(
      [request(new Uint8Array(0), { tensors: [{ name: 'input', datatype: 'FP32', shape: [1, 3, 8, 8], data: new Float32Array(3 * 64) }] })],
      withSharp.fixture.context,
    );
    expect([(result as HandlerError).status, (result as HandlerError).code]).toEqual([400, 'InvalidInput']);
    expect((result as Error).message).toMatch(/must be FP32 \[-1, 3, 224, 224\]/);
  });

  it('fails only the bad requests of a batch, each with its typed 400', async () => {
    const jpeg = image('kitten.jpg');
    const bomb = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } }).png().toBuffer();
    // Rewrite the IHDR size: a 20000x20000 image in a few hundred bytes.
    bomb.writeUInt32BE(20_000, 16);
    bomb.writeUInt32BE(20_000, 20);
    const inputs = [
      request(new Uint8Array(0)),
      request(jpeg),
      request(new TextEncoder().encode('this is not an image')),
      request(jpeg.subarray(0, Math.floor(jpeg.length / 2))),
      request(bomb),
      request(jpeg, { query: { topk: '0' } }),
    ];
    const results = await withSharp.handler.handle(inputs, withSharp.fixture.context);
    expect(results).toHaveLength(inputs.length);
    const codes = results.map((r) => (r instanceof HandlerError ? `${r.status} ${r.code}` : 'ok'));
    expect(codes).toEqual(['400 ImageUnreadable', 'ok', '400 ImageUnreadable', '400 ImageUnreadable', '400 ImageTooLarge', '400 InvalidInput']);
    expect((results[0] as Error).message).toMatch(/empty/);
    expect((results[2] as Error).message).toMatch(/not an image/);
    expect((results[3] as Error).message).toMatch(/truncated|premature/i);
    expect((results[4] as Error).message).toMatch(/20000x20000/);
    expect(contenders('kitten.jpg')).toContain(labelOf((results[1] as Top)[0]!));
  });

  it('describes the model tensors for the v2 metadata endpoint', () => {
    expect(withSharp.handler.describe()).toEqual({
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 3, 224, 224] }, { name: 'image', datatype: 'BYTES', shape: [-1] }],
      outputs: [{ name: 'output', datatype: 'FP32', shape: [-1, 1000] }, { name: 'classes', datatype: 'BYTES', shape: [-1] }],
    });
  });
});

describe('model config and model shapes', () => {
  it('answers the config\'s handler.topk by default; a request\'s topk still wins', async () => {
    const fixture = modelFixture({ config: { handler: { topk: 3 } } });
    try {
      const handler = new ImgClassifierService();
      await handler.initialize(fixture.context);
      const kitten = image('kitten.jpg');
      const results = (await handler.handle([request(kitten), request(kitten, { query: { topk: '7' } })], fixture.context)) as Top[];
      expect(results.map((r) => r.length)).toEqual([3, 7]);
      expect(contenders('kitten.jpg')).toContain(labelOf(results[0]![0]!));
      expect(fixture.logs).toContainEqual(expect.objectContaining({ msg: 'mobilenet 1.0 ready', fields: expect.objectContaining({ topk: 3 }) }));
    } finally {
      fixture.cleanup();
    }
  });

  it('reads the input size from the model: a 160×160 classifier gets 160×160 crops', async () => {
    const fixture = modelFixture({ serializedFile: 'tiny160.onnx' });
    try {
      writeFileSync(join(fixture.modelDir, 'tiny160.onnx'), tinyClassifier(160, 10));
      const handler = new ImgClassifierService();
      await handler.initialize(fixture.context);
      expect(handler.describe().inputs).toEqual([{ name: 'pixels', datatype: 'FP32', shape: [-1, 3, 160, 160] }, { name: 'image', datatype: 'BYTES', shape: [-1] }]);
      expect(handler.transform()).toMatchObject({ resize: 183, crop: 160 });
      const results = (await handler.handle([request(image('kitten.jpg')), request(image('bus.jpg'), { query: { topk: '20' } })], fixture.context)) as Top[];
      expect(results.map((r) => r.length)).toEqual([5, 10]);
      expect(fixture.logs).toContainEqual(expect.objectContaining({ fields: expect.objectContaining({ inputSize: 160 }) }));
    } finally {
      fixture.cleanup();
    }
  });
});

describe('the tutorial service and the SDK\'s ImageClassifier', () => {
  it('answer every photo, a batch and a topk the same: the SDK class is the one implementation', async () => {
    const fixture = modelFixture();
    try {
      const tutorial = new ImgClassifierService();
      const sdk = new ImageClassifier();
      await tutorial.initialize(fixture.context);
      await sdk.initialize(fixture.context);
      const requests = () => [...photos.map((name) => request(image(name))), request(image('kitten.jpg'), { query: { topk: '2' } }), request(new Uint8Array(0))];
      const [fromTutorial, fromSdk] = [await tutorial.handle(requests(), fixture.context), await sdk.handle(requests(), fixture.context)];
      expect(fromTutorial.slice(0, -1)).toEqual(fromSdk.slice(0, -1));
      expect(fromTutorial.at(-1)).toBeInstanceOf(HandlerError);
      expect([(fromTutorial.at(-1) as HandlerError).code, (fromSdk.at(-1) as HandlerError).code]).toEqual(['ImageUnreadable', 'ImageUnreadable']);
      expect(tutorial.describe()).toEqual(sdk.describe());
    } finally {
      fixture.cleanup();
    }
  });
});

describe('the module exports the worker calls', () => {
  it('exports initialize, handle and describe bound to one service', async () => {
    const module = await import('../img_classifier_service.js');
    const fixture = modelFixture({ serializedFile: null, extraFiles: ['synset.txt'] });
    try {
      await module.initialize(fixture.context);
      const [result] = (await module.handle([request(image('pelican.jpeg'))], fixture.context)) as Top[];
      expect(labelOf(result![0]!)).toBe(stableTop1('pelican.jpeg'));
      expect(module.describe()?.inputs[0]?.name).toBe('input');
      expect(fixture.logs.some((l) => l.level === 'info' && l.fields?.provider === 'cpu')).toBe(true);
    } finally {
      fixture.cleanup();
    }
  });
});

describe('the same handler on ResNet-50 v1 (synthetic weights, the zoo file’s tensor names)', () => {
  it('finds the input and output names and size from the model, and answers top 5 per image', async () => {
    const { generateSyntheticResNet50 } = await import('../scripts/synthetic/index.js');
    const fixture = modelFixture({ serializedFile: 'resnet50.onnx' });
    try {
      await generateSyntheticResNet50({ out: `${fixture.modelDir}/resnet50.onnx`, seed: 50, force: true });
      const handler = new ImgClassifierService();
      await handler.initialize(fixture.context);
      expect(handler.describe().inputs[0]).toEqual({ name: 'data', datatype: 'FP32', shape: [-1, 3, 224, 224] });
      expect(handler.describe().outputs[0]?.name).toBe('resnetv17_dense0_fwd');
      const results = (await handler.handle([request(image('kitten.jpg')), request(image('croco.jpg'))], fixture.context)) as Top[];
      for (const result of results) {
        expect(result).toHaveLength(5);
        const total = result.reduce((sum, entry) => sum + Object.values(entry)[0]!, 0);
        expect(total).toBeGreaterThan(0);
        expect(total).toBeLessThanOrEqual(1 + 1e-6);
      }
    } finally {
      fixture.cleanup();
    }
  // Generating 25 M parameters and loading them takes seconds alone, and minutes on a loaded machine.
  }, 180_000);
});
