import type { ImageHeader } from './probe.js';
import type { ImageTransform } from './transform.js';

/**
 * What an image backend is, apart from how one is chosen (`backend.ts`): the backends implement
 * these types without importing the selection code that imports them.
 */
export type ImageBackendName = 'sharp' | 'jimp';

export interface DecodedPixels {
  /** `crop`×`crop` pixels, `channels` bytes each, R, G, B first. */
  pixels: Uint8Array;
  channels: number;
}

export interface ImageBackend {
  readonly name: ImageBackendName;
  /** What decodes JPEGs in the sharp backend: `turbojpeg (<library>)` or `libvips`; unset for jimp, which decodes them itself. */
  readonly jpegDecoder?: string;
  /**
   * Decodes upright, resizes the shorter side, centre-crops. `header` is what `probeImage` read
   * (format, stored size, EXIF orientation of a JPEG). Throws `ImageUnreadable`/`ImageTooLarge`.
   */
  decode(bytes: Uint8Array, transform: ImageTransform, maxPixels: number, header: ImageHeader): Promise<DecodedPixels>;
}
