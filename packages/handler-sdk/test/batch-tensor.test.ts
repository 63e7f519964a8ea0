import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Tensor } from 'onnxruntime-node';
import { concatBatch, HandlerError, ImageClassifier, serve, type ImageBackend, type RequestInput } from '@nodeserve/handler-sdk';
import { classesOf, image, labelOf, modelFixture, request, type RecordingContext } from '../../../test/support/handler-context.js';
import { stableTop1, wideMarginPhotos } from '../../../test/support/imagenet-reference.js';

type Top = Array<Record<string, number>>;

describe('concatBatch', () => {
  it('joins consecutive views of one array without copying, and copies anything else', () => {
    const array = Float32Array.from({ length: 12 }, (_, i) => i);
    const views = [array.subarray(0, 4), array.subarray(4, 8), array.subarray(8, 12)].map((v) => new Tensor('float32', v, [1, 4]));
    const joined = concatBatch(views);
    expect(joined.dims).toEqual([3, 4]);
    expect((joined.data as Float32Array).buffer).toBe(array.buffer);
    expect(Array.from(joined.data as Float32Array)).toEqual(Array.from(array));
    // A gap (the middle row left out), rows out of order, or separate arrays: a copy of the rows in order.
    for (const parts of [[views[0]!, views[2]!], [views[1]!, views[0]!], [views[0]!, new Tensor('float32', array.slice(4, 8), [1, 4])]]) {
      const copied = concatBatch(parts);
      expect((copied.data as Float32Array).buffer).not.toBe(array.buffer);
      expect(Array.from(copied.data as Float32Array)).toEqual(parts.flatMap((p) => Array.from(p.data as Float32Array)));
    }
  });
});

/** An ImageClassifier that records each request's tensor and each batch it runs. */
class Recording extends ImageClassifier {
  readonly inputs: Tensor[] = [];
  readonly batches: Tensor[] = [];
  override preprocess(request: RequestInput): Promise<Tensor> {
    const tensor = super.preprocess(request);
    tensor.then((t) => this.inputs.push(t), () => {});
    return tensor;
  }
  override inference(batch: Tensor, rows?: readonly number[]): ReturnType<ImageClassifier['inference']> {
    this.batches.push(batch);
    return super.inference(batch, rows);
  }
}

describe('VisionHandler batches', () => {
  let fixture: RecordingContext;
  const handler = new Recording();
  const served = serve(handler);
  beforeAll(async () => {
    fixture = modelFixture();
    await served.initialize(fixture.context);
  });
  afterAll(() => fixture.cleanup());

  it("preprocesses a batch's images into one array, which inference runs as it is", async () => {
    const photos = wideMarginPhotos().slice(0, 4);
    expect(photos.length).toBe(4);
    handler.inputs.length = 0;
    handler.batches.length = 0;
    const results = (await served.handle(photos.map((p) => request(image(p))), fixture.context)) as Top[];
    expect(results.map((r) => labelOf(r[0]!))).toEqual(photos.map(stableTop1));
    expect(handler.batches).toHaveLength(1);
    const buffer = (handler.batches[0]!.data as Float32Array).buffer;
    expect(handler.inputs.every((t) => (t.data as Float32Array).buffer === buffer)).toBe(true);
  });

  it('still answers each request with its own photo when one fails and another carries two images', async () => {
    const photos = wideMarginPhotos().slice(0, 3);
    const twoImages: RequestInput = request(new Uint8Array(0), {
      tensors: [{ name: 'image', datatype: 'BYTES', shape: [2], data: [image(photos[1]!), image(photos[2]!)] }],
    });
    handler.batches.length = 0;
    const results = await served.handle([request(image(photos[0]!)), request(new TextEncoder().encode('not an image')), twoImages, request(image(photos[2]!))], fixture.context);
    expect(labelOf((results[0] as Top)[0]!)).toBe(stableTop1(photos[0]!));
    expect((results[1] as HandlerError).code).toBe('ImageUnreadable');
    expect(classesOf(results[2]).map((top) => labelOf(top[0]!))).toEqual([stableTop1(photos[1]!), stableTop1(photos[2]!)]);
    expect(labelOf((results[3] as Top)[0]!)).toBe(stableTop1(photos[2]!));
    // Rows: 1 + 2 + 1, copied into one batch since the failed request left a gap.
    expect(handler.batches[0]!.dims[0]).toBe(4);
  });
});

/** An ImageClassifier whose decodes of the given images take extra time (by their byte length). */
class Slowed extends ImageClassifier {
  readonly delays = new Map<number, number>();
  override get imageBackend(): ImageBackend {
    const backend = super.imageBackend;
    return {
      name: backend.name,
      decode: async (bytes, transform, maxPixels, header) => {
        await new Promise((resolve) => setTimeout(resolve, this.delays.get(bytes.length) ?? 0));
        return backend.decode(bytes, transform, maxPixels, header);
      },
    };
  }
}

describe('VisionHandler batches, one after another', () => {
  let fixture: RecordingContext;
  const handler = new Slowed();
  const served = serve(handler);
  beforeAll(async () => {
    fixture = modelFixture();
    await served.initialize(fixture.context);
  });
  afterAll(() => fixture.cleanup());

  it('answers a request only once all its images are done, so none lands in the next batch', async () => {
    // Batch 1: a request whose first image is refused at once while its second still decodes, and
    // another request. Batch 2, started as soon as batch 1 is answered, reuses its array: if batch 1
    // were answered early, the slow image would land in batch 2's second slot after that request's
    // own image and before inference (held back by batch 2's slow first image).
    const [slow, first, second] = ['Cat.jpg', ...wideMarginPhotos().filter((p) => p !== 'Cat.jpg').slice(0, 2)] as [string, string, string];
    handler.delays.set(image(slow).length, 300);
    handler.delays.set(image(first).length, 600);
    const twoImages: RequestInput = request(new Uint8Array(0), {
      tensors: [{ name: 'image', datatype: 'BYTES', shape: [2], data: [new TextEncoder().encode('not an image'), image(slow)] }],
    });
    const one = await served.handle([twoImages, request(image(second))], fixture.context);
    expect((one[0] as HandlerError).code).toBe('ImageUnreadable');
    const two = (await served.handle([request(image(first)), request(image(second))], fixture.context)) as Top[];
    expect(two.map((r) => labelOf(r[0]!))).toEqual([stableTop1(first), stableTop1(second)]);
  }, 30_000);
});
