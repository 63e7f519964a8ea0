import type sharpType from 'sharp';
import { ImageUnreadable, ImageTooLarge } from '../errors.js';
import type { ImageHeader } from './probe.js';
import { resizeAndCrop } from './resample.js';
import { resampleRgb } from './resample-simd.js';
import { geometry, type ImageTransform } from './transform.js';
import type { TurboJpeg } from './turbojpeg.js';
import type { ImageBackend } from './types.js';

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

/** The largest JPEG TurboJPEG decodes (48 MB of RGB, then a copy in WebAssembly memory): a 1000-pixel-wide strip 16,000 long. */
const TURBOJPEG_MAX_PIXELS = 16_000_000;

/**
 * Whether TurboJPEG and `resampleRgb` should take a JPEG: when libvips would decode it at full size
 * too, its shorter side under 4× the resize (JPEG shrink-on-load needs a factor of 4: 2 in the DCT,
 * 2 left for the bilinear reduce), and up to `TURBOJPEG_MAX_PIXELS`. Larger photos go to libvips,
 * which decodes them at a half or less and streams them in strips: a 4032 × 3024 photo costs 31 ms
 * of CPU there against 122 ms decoded in full, and holds a fraction of its 37 MB of RGB, within 5 of
 * 255 levels of Pillow where TurboJPEG would be exact.
 */
function turboJpegSuits(header: ImageHeader, transform: ImageTransform): boolean {
  return Math.min(header.width, header.height) < 4 * transform.resize && header.width * header.height <= TURBOJPEG_MAX_PIXELS;
}

/**
 * libvips through sharp: decodes, rotates per EXIF, resizes and crops in native code, returning
 * packed RGB. The libvips that sharp bundles has no BMP loader, so BMP goes to `bmpBackend`.
 *
 * With `turbo`, JPEGs are decoded by libjpeg-turbo's TurboJPEG (`turbojpeg.ts`, the same pixels
 * 2.5× cheaper), then turned upright, resized and cropped by `resampleRgb` (Pillow's arithmetic, bit
 * for bit); what TurboJPEG declines takes the libvips path.
 *
 * One libvips pipeline per image: a JPEG's upright size comes from the header `probeImage`
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
      if (header.format === 'jpeg' && turbo !== undefined && turboJpegSuits(header, transform)) {
        // What TurboJPEG declines (CMYK, warnings, corrupt files) or fails at goes on to libvips below.
        const resampled = await turbo
          .decode(bytes, maxPixels, ({ pixels, width, height }) => resampleRgb(pixels, width, height, header.orientation, transform))
          .catch((error: unknown) => ({ reason: String(error) }));
        if ('value' in resampled) return { pixels: resampled.value, channels: 4 };
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
