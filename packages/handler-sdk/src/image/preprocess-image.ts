import type { ImageBackend } from './types.js';
import { probeImage } from './probe.js';
import { toChw, type ImageTransform } from './transform.js';

/** Enough for a 40-megapixel photo; bounded so one request cannot make a worker allocate gigabytes. */
export const DEFAULT_MAX_PIXELS = 40_000_000;

/**
 * One encoded image to normalised CHW float32 (`3`×`crop`×`crop`), checking the pixel limit before
 * decoding; written into `out` (that many values: one image's slot of a batch tensor, say) when
 * given, which saves a 600 kB array and its copy per 224 × 224 image.
 */
export async function preprocessImage(
  bytes: Uint8Array,
  backend: ImageBackend,
  transform: ImageTransform,
  maxPixels: number = DEFAULT_MAX_PIXELS,
  out?: Float32Array,
): Promise<Float32Array> {
  const header = probeImage(bytes, maxPixels);
  const { pixels, channels } = await backend.decode(bytes, transform, maxPixels, header);
  return toChw(pixels, channels, transform, out);
}
