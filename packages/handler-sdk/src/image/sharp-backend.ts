import type sharpType from 'sharp';
import { ImageUnreadable, ImageTooLarge } from '../errors.js';
import type { ImageHeader } from './probe.js';
import { resizeAndCrop } from './resample.js';
import { geometry, type ImageTransform } from './transform.js';
import type { DecodedJpeg, TurboJpeg } from './turbojpeg.js';
import type { DecodedPixels, ImageBackend } from './types.js';

type Sharp = typeof sharpType;

function decodeError(error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(message)) return new ImageTooLarge(`the image is over the pixel limit: ${message}`, { cause: error });
  return new ImageUnreadable(`the image could not be decoded (corrupt or truncated): ${message}`, { cause: error });
}

/** The upright size of a JPEG from its header: EXIF orientations 5–8 are stored sideways. */
function uprightJpeg(header: ImageHeader): { width: number; height: number } {
  const sideways = header.orientation !== undefined && header.orientation >= 5;
  return sideways ? { width: header.height, height: header.width } : { width: header.width, height: header.height };
}

/**
 * sharp's operations that turn a stored image upright for each EXIF orientation (TIFF tag 0x0112),
 * as libvips's autorotation and Pillow's `exif_transpose` do: sharp mirrors before it rotates
 * (clockwise), so 5 is a vertical mirror then 90°, 7 a horizontal mirror then 90°.
 */
const UPRIGHT: Record<number, { flip?: true; flop?: true; rotate?: 90 | 180 | 270 }> = {
  2: { flop: true },
  3: { rotate: 180 },
  4: { flip: true },
  5: { flip: true, rotate: 90 },
  6: { rotate: 90 },
  7: { flop: true, rotate: 90 },
  8: { rotate: 270 },
};

/**
 * Pixels TurboJPEG decoded, made upright, resized and cropped by libvips from memory (the same
 * reduce as the libvips-decoded path, so the same pixels), or enlarged by `resizeAndCrop`.
 */
async function fromDecoded(sharp: Sharp, decoded: DecodedJpeg, orientation: number | undefined, transform: ImageTransform): Promise<DecodedPixels> {
  const { width, height } = decoded;
  const turn = UPRIGHT[orientation ?? 1];
  const sideways = turn?.rotate === 90 || turn?.rotate === 270;
  const upright = sideways ? { width: height, height: width } : { width, height };
  let image = sharp(decoded.pixels, { raw: { width, height, channels: 3 }, limitInputPixels: false });
  if (turn?.flip) image = image.flip();
  if (turn?.flop) image = image.flop();
  if (turn?.rotate !== undefined) image = image.rotate(turn.rotate);
  if (Math.min(upright.width, upright.height) < transform.resize) {
    const pixels = turn === undefined ? decoded.pixels : await image.raw().toBuffer();
    return { pixels: resizeAndCrop(pixels, upright.width, upright.height, 3, transform), channels: 3 };
  }
  const g = geometry(upright.width, upright.height, transform);
  const pixels = await image
    .resize(g.width, g.height, { fit: 'fill', kernel: 'linear' })
    .extract({ left: g.left, top: g.top, width: transform.crop, height: transform.crop })
    .raw()
    .toBuffer();
  return { pixels, channels: 3 };
}

/**
 * libvips through sharp: decodes, rotates per EXIF, resizes and crops in native code, returning
 * packed RGB. The libvips that sharp bundles has no BMP loader, so BMP goes to `bmpBackend`.
 *
 * With `turbo`, JPEGs are decoded by libjpeg-turbo's TurboJPEG (`turbojpeg.ts`, the same pixels
 * 2.5× cheaper) and only resized and cropped by libvips; what TurboJPEG declines takes the libvips
 * path. One libvips pipeline per image: a JPEG's upright size comes from the header `probeImage`
 * already read (other formats still ask libvips for it). Reducing uses libvips's bilinear (`linear`)
 * kernel, within 2 of 255 levels of Pillow's on the shared photos; images smaller than the resize
 * are decoded by libvips and enlarged by `resizeAndCrop`, which samples as Pillow does.
 */
export function sharpBackend(sharp: Sharp, bmpBackend: () => Promise<ImageBackend>, turbo?: TurboJpeg): ImageBackend {
  // libvips's operation cache pays off when the same input is processed again; a server decodes
  // each request body once, so it would only hold memory (up to 50 MB by default).
  sharp.cache(false);
  return {
    name: 'sharp',
    jpegDecoder: turbo === undefined ? 'libvips' : `turbojpeg (${turbo.library})`,
    async decode(bytes, transform, maxPixels, header) {
      if (header.format === 'bmp') return (await bmpBackend()).decode(bytes, transform, maxPixels, header);
      if (header.format === 'jpeg' && turbo !== undefined) {
        const decoded = await turbo.decode(bytes, maxPixels);
        // What TurboJPEG declines (CMYK, warnings, corrupt files) goes on to libvips below.
        if ('pixels' in decoded) {
          try {
            return await fromDecoded(sharp, decoded, header.orientation, transform);
          } catch (error) {
            throw decodeError(error);
          } finally {
            decoded.release();
          }
        }
      }
      // The embedded ICC profile is ignored, as Pillow's convert('RGB') in the reference pipelines does
      // (the models were trained on such pixels): bus.jpg's profile moved it up to 61 levels.
      const options = { limitInputPixels: maxPixels, failOn: 'error', autoOrient: true, ignoreIcc: true } as const;
      try {
        let upright = header.format === 'jpeg' ? uprightJpeg(header) : undefined;
        if (upright === undefined) {
          const meta = await sharp(bytes, options).metadata();
          upright = meta.autoOrient ?? { width: meta.width, height: meta.height };
        }
        if (Math.min(upright.width, upright.height) < transform.resize) {
          const { data, info } = await sharp(bytes, options).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
          return { pixels: resizeAndCrop(data, info.width, info.height, info.channels, transform), channels: info.channels };
        }
        const g = geometry(upright.width, upright.height, transform);
        // Bilinear, as the zoo's reference preprocessing: sharp's default Lanczos sharpens enough to
        // change close top-1 calls (dog.jpg: kuvasz vs golden retriever). No JPEG shrink-on-load
        // unless at least a factor of two is left for the bilinear reduce: decoding at half size
        // first put bus.jpg (810×1080 → 256) up to 20 levels from Pillow (mean 1.5) instead of 1.
        const { data, info } = await sharp(bytes, options)
          .resize(g.width, g.height, { fit: 'fill', kernel: 'linear', fastShrinkOnLoad: false })
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
