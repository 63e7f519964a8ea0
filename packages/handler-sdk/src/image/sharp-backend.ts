import type sharpType from 'sharp';
import { ImageUnreadable, ImageTooLarge } from '../errors.js';
import type { ImageBackend } from './backend.js';
import { geometry } from './transform.js';

type Sharp = typeof sharpType;

function decodeError(error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(message)) return new ImageTooLarge(`the image is over the pixel limit: ${message}`, { cause: error });
  return new ImageUnreadable(`the image could not be decoded (corrupt or truncated): ${message}`, { cause: error });
}

/**
 * libvips through sharp: decodes, rotates per EXIF, resizes and crops in native code, returning
 * packed RGB. The libvips that sharp bundles has no BMP loader, so BMP goes to `bmpBackend`.
 */
export function sharpBackend(sharp: Sharp, bmpBackend: () => Promise<ImageBackend>): ImageBackend {
  return {
    name: 'sharp',
    async decode(bytes, transform, maxPixels, format) {
      if (format === 'bmp') return (await bmpBackend()).decode(bytes, transform, maxPixels, format);
      // Bilinear, as the zoo's reference preprocessing: sharp's default Lanczos sharpens enough to
      // change close top-1 calls (dog.jpg: kuvasz vs golden retriever).
      const options = { limitInputPixels: maxPixels, failOn: 'error', autoOrient: true } as const;
      try {
        const meta = await sharp(bytes, options).metadata();
        const upright = meta.autoOrient ?? { width: meta.width, height: meta.height };
        const g = geometry(upright.width, upright.height, transform);
        const { data, info } = await sharp(bytes, options)
          .resize(g.width, g.height, { fit: 'fill', kernel: 'linear' })
          .extract({ left: g.left, top: g.top, width: transform.crop, height: transform.crop })
          .removeAlpha()
          .toColourspace('srgb')
          .raw()
          .toBuffer({ resolveWithObject: true });
        return { pixels: data, channels: info.channels };
      } catch (error) {
        throw decodeError(error);
      }
    },
  };
}
