import type { Jimp as JimpType } from 'jimp';
import { ImageUnreadable } from '../errors.js';
import type { ImageBackend } from './types.js';
import { geometry } from './transform.js';

/** Pure JavaScript, for hosts where sharp's native library cannot load. It has no WebP decoder. */
export function jimpBackend(Jimp: typeof JimpType): ImageBackend {
  return {
    name: 'jimp',
    async decode(bytes, transform, _maxPixels, header) {
      if (header.format === 'webp') throw new ImageUnreadable('WebP images need the sharp image backend, which is not available on this server');
      let image: Awaited<ReturnType<typeof Jimp.fromBuffer>>;
      try {
        // fromBuffer applies the EXIF orientation.
        image = await Jimp.fromBuffer(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        throw new ImageUnreadable(`the image could not be decoded (corrupt or truncated): ${message}`, { cause: error });
      }
      const g = geometry(image.bitmap.width, image.bitmap.height, transform);
      image.resize({ w: g.width, h: g.height }).crop({ x: g.left, y: g.top, w: transform.crop, h: transform.crop });
      return { pixels: new Uint8Array(image.bitmap.data.buffer, image.bitmap.data.byteOffset, image.bitmap.data.byteLength), channels: 4 };
    },
  };
}
