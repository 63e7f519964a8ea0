import { Tensor } from 'onnxruntime-node';
import { ModelFailed } from '../errors.js';
import { selectImageBackend, type ImageBackend } from '../image/backend.js';
import { DEFAULT_MAX_PIXELS, preprocessImage } from '../image/preprocess-image.js';
import { imagenetTransform, type ImageTransform } from '../image/transform.js';
import type { Context, RequestInput } from '../types.js';
import { BaseHandler } from './base-handler.js';
import { handlerSettings } from './settings.js';
import { tensorInput } from './tensor-input.js';

/** The model's square input side from its `[N, 3, H, W]` input, else the ImageNet default. */
function inputSide(shape: readonly number[]): number {
  const [, channels, h, w] = shape;
  if (shape.length === 4 && (channels === 3 || channels === -1) && h === w && h !== undefined && h > 0) return h;
  return 224;
}

/**
 * Adds image input to `BaseHandler`: each request body is decoded (JPEG, PNG, WebP, GIF, BMP, upright
 * per EXIF), resized, centre-cropped and normalised into NCHW float32. A v2 request that already
 * carries the model's input tensor skips decoding.
 */
export class VisionHandler extends BaseHandler {
  #backend: ImageBackend | undefined;
  #transform: ImageTransform | undefined;
  #maxPixels = DEFAULT_MAX_PIXELS;

  /** The image backend in use: `sharp` or `jimp`. */
  get imageBackend(): ImageBackend {
    if (this.#backend === undefined) throw new ModelFailed('the handler was used before initialize(context)');
    return this.#backend;
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
    this.#backend = await selectImageBackend(context.logger, settings.imageBackend);
    const { crop } = this.transform();
    context.logger.info('image preprocessing ready', { backend: this.#backend.name, crop, maxPixels: this.#maxPixels });
  }

  override async preprocess(request: RequestInput): Promise<Tensor> {
    const passed = tensorInput(request.tensors, this.input);
    if (passed !== undefined) return passed;
    const transform = this.transform();
    const chw = await preprocessImage(request.body, this.imageBackend, transform, this.#maxPixels);
    return new Tensor('float32', chw, [1, 3, transform.crop, transform.crop]);
  }
}
