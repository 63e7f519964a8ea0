import { Tensor } from 'onnxruntime-node';
import { ImageUnreadable, InvalidInput, ModelFailed } from '../errors.js';
import { imageBytes } from '../image/base64.js';
import { selectImageBackend, type ImageBackend } from '../image/backend.js';
import { DEFAULT_MAX_PIXELS, preprocessImage } from '../image/preprocess-image.js';
import { imagenetTransform, type ImageTransform } from '../image/transform.js';
import type { ModelDescription } from '../onnx/describe.js';
import type { Context, HandlerResult, RequestInput } from '../types.js';
import { BaseHandler } from './base-handler.js';
import { handlerSettings } from './settings.js';
import { refuseUnknownInputs, tensorInput } from './tensor-input.js';

/** A batch's images array while `handle` starts, and how much of it the requests took. */
interface Batch {
  requests: number;
  array?: Float32Array;
  used: number;
}

/** The v2 input that carries encoded images (`BYTES`, one image per element), unless the model's own input has that name. */
export const IMAGE_INPUT = 'image';

/** Images one request may carry in a v2 `BYTES` input; each is decoded, so this bounds a request's work. */
export const MAX_IMAGES_PER_REQUEST = 64;

/** The model's square input side from its `[N, 3, H, W]` input, else the ImageNet default. */
function inputSide(shape: readonly number[]): number {
  const [, channels, h, w] = shape;
  if (shape.length === 4 && (channels === 3 || channels === -1) && h === w && h !== undefined && h > 0) return h;
  return 224;
}

/**
 * Adds image input to `BaseHandler`: each image is decoded (JPEG, PNG, WebP, GIF, BMP, upright per
 * EXIF; or base64 text of one), resized, centre-cropped and normalised into NCHW float32.
 *
 * Where the image comes from: the body (raw, or a form's `data`/`body`/only field); a JSON body that
 * is a string or has a `data` or `body` string; on the v2 API, the `image` input (`BYTES`, one encoded
 * image per element: a request of N images gets N rows). A v2 request that carries the model's own
 * input tensor skips decoding. `describe()` advertises both inputs.
 */
export class VisionHandler extends BaseHandler {
  #backend: ImageBackend | undefined;
  /** While `handle` starts its requests' preprocessing: one array for the batch's images (see `handle`). */
  #batch: Batch | undefined;
  /** The array of the last batch answered, for the next one. */
  #spare: Float32Array | undefined;
  #transform: ImageTransform | undefined;
  #maxPixels = DEFAULT_MAX_PIXELS;

  /** The image backend in use: `sharp` or `jimp`. */
  get imageBackend(): ImageBackend {
    if (this.#backend === undefined) throw new ModelFailed('the handler was used before initialize(context)');
    return this.#backend;
  }

  /** The name of the v2 `BYTES` input of encoded images: `image`, or `image_bytes` when the model's input is called `image`. */
  get imageInputName(): string {
    return this.input.name === IMAGE_INPUT ? `${IMAGE_INPUT}_bytes` : IMAGE_INPUT;
  }

  /** Resize, crop and normalisation; override for models not trained with ImageNet's. */
  transform(): ImageTransform {
    this.#transform ??= imagenetTransform(inputSide(this.input.shape));
    return this.#transform;
  }

  override async initialize(context: Context): Promise<void> {
    const settings = handlerSettings(context);
    await super.initialize(context);
    this.#maxPixels = settings.maxImagePixels ?? DEFAULT_MAX_PIXELS;
    this.#backend = await selectImageBackend(context.logger, settings.imageBackend, settings.jpegDecoder);
    const { crop } = this.transform();
    const { name: backend, jpegDecoder } = this.#backend;
    context.logger.info('image preprocessing ready', { backend, jpegDecoder, crop, maxPixels: this.#maxPixels });
  }

  /** The model's tensors, and the encoded-image input beside its own input. */
  override describe(): ModelDescription {
    const model = super.describe();
    return { ...model, inputs: [...model.inputs, { name: this.imageInputName, datatype: 'BYTES', shape: [-1] }] };
  }

  override async preprocess(request: RequestInput): Promise<Tensor> {
    refuseUnknownInputs(request.tensors, [this.input.name, this.imageInputName]);
    const passed = tensorInput(request.tensors, this.input);
    if (passed !== undefined) {
      if (request.tensors?.some((t) => t.name === this.imageInputName) === true) {
        throw new InvalidInput(`send either the tensor "${this.input.name}" or the images "${this.imageInputName}", not both`);
      }
      return passed;
    }
    const images = this.images(request);
    const transform = this.transform();
    const size = 3 * transform.crop * transform.crop;
    const chw = this.#slot(size, images.length);
    // Every image settles before the request does, failed or not: a sibling still decoding into its
    // slot must not write there after the batch is answered and the array serves the next one.
    const settled = await Promise.allSettled(images.map((image, i) => preprocessImage(imageBytes(image), this.imageBackend, transform, this.#maxPixels, chw.subarray(i * size, (i + 1) * size))));
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return new Tensor('float32', chw, [images.length, 3, transform.crop, transform.crop]);
  }

  /**
   * Starts each request's preprocessing as `BaseHandler.handle` does, with one array for the batch:
   * the requests' `preprocess` calls take consecutive slots of it while they start (before their
   * first await, in request order), so their tensors are consecutive views that `concatBatch` joins
   * without copying (a 224 × 224 image is 600 kB). A request that needs more than its share, or a
   * subclass that awaits before `super.preprocess`, gets an array of its own, and the batch is copied.
   *
   * The array is reused by later batches once this one is answered: ONNX Runtime has read it by
   * then. In a loop of the SDK alone a fresh array per batch of 8 cost 0.4 ms of CPU per image more
   * (3.6 against 4.0 ms: zeroed pages, page faults, V8's collections for external memory); in the
   * server's workers, where each batch also brings its frames, the difference stays within the noise.
   */
  override async handle(data: RequestInput[], context?: Context): Promise<HandlerResult[]> {
    const batch: Batch = { requests: data.length, used: 0 };
    this.#batch = batch;
    let answered: Promise<HandlerResult[]>;
    try {
      answered = super.handle(data, context);
    } finally {
      this.#batch = undefined;
    }
    try {
      return await answered;
    } finally {
      if (batch.array !== undefined) this.#spare = batch.array;
    }
  }

  /** Room for `count` images of `size` values: the batch's next slot while `handle` starts, else a new array. */
  #slot(size: number, count: number): Float32Array {
    const batch = this.#batch;
    if (batch === undefined) return new Float32Array(size * count);
    if (batch.array === undefined) {
      const needed = size * batch.requests;
      // The spare is taken, so two batches in flight never share it.
      const spare = this.#spare;
      this.#spare = undefined;
      batch.array = spare !== undefined && spare.length >= needed && spare.length <= 2 * needed ? spare : new Float32Array(needed);
    }
    if (batch.used + size * count > size * batch.requests) return new Float32Array(size * count);
    const slot = batch.array.subarray(batch.used, batch.used + size * count);
    batch.used += size * count;
    return slot;
  }

  /** The encoded images of one request (see the class comment), each still bytes or base64 text. */
  protected images(request: RequestInput): Uint8Array[] {
    if (request.tensors !== undefined) {
      const input = request.tensors.find((t) => t.name === this.imageInputName);
      if (input === undefined) {
        throw new InvalidInput(`send images as the BYTES input "${this.imageInputName}", or the tensor "${this.input.name}"`);
      }
      if (input.datatype !== 'BYTES') throw new InvalidInput(`input "${input.name}" must be BYTES (one encoded image per element); got ${input.datatype}`);
      const items = input.data as Uint8Array[];
      if (items.length === 0) throw new ImageUnreadable(`input "${input.name}" holds no image`);
      if (items.length > MAX_IMAGES_PER_REQUEST) {
        throw new InvalidInput(`input "${input.name}" holds ${items.length} images; one request may carry at most ${MAX_IMAGES_PER_REQUEST}`);
      }
      return items;
    }
    const json = request.json;
    if (json !== undefined) {
      const text = typeof json === 'string' ? json : jsonImageField(json);
      if (text === undefined) throw new ImageUnreadable('the JSON body holds no image: send a base64 string, or {"data": "<base64>"}');
      return [Buffer.from(text, 'latin1')];
    }
    if (request.body.length === 0 && Object.keys(request.form).length > 0) {
      const names = Object.keys(request.form).map((n) => `"${n}"`).join(', ');
      throw new ImageUnreadable(`the form has the fields ${names} but no image in "data" (or "body"): send the image as data`);
    }
    return [request.body];
  }
}

/** `{"data": "<base64>"}` or `{"body": …}`, TorchServe's names. */
function jsonImageField(json: unknown): string | undefined {
  if (json === null || typeof json !== 'object') return undefined;
  const record = json as Record<string, unknown>;
  const value = record['data'] ?? record['body'];
  return typeof value === 'string' ? value : undefined;
}
