import type { Logger } from '../types.js';
import { jimpBackend } from './jimp-backend.js';
import { sharpBackend } from './sharp-backend.js';
import { loadTurboJpeg, type TurboJpeg } from './turbojpeg.js';
import type { ImageBackend, ImageBackendName } from './types.js';

export type { DecodedPixels, ImageBackend, ImageBackendName } from './types.js';

export const IMAGE_BACKEND_ENV = 'NODESERVE_IMAGE_BACKEND';
export const JPEG_DECODER_ENV = 'NODESERVE_JPEG_DECODER';

/** What decodes JPEGs in the sharp backend: libjpeg-turbo's TurboJPEG, or libvips's own loader. */
export type JpegDecoderName = 'turbojpeg' | 'libvips';

const loaded = new Map<string, Promise<ImageBackend>>();
let turbo: Promise<TurboJpeg> | undefined;

function load(name: ImageBackendName, jpeg: JpegDecoderName = 'libvips'): Promise<ImageBackend> {
  const key = name === 'sharp' ? `sharp+${jpeg}` : name;
  let backend = loaded.get(key);
  if (backend === undefined) {
    backend = name === 'sharp'
      ? Promise.all([import('sharp'), jpeg === 'turbojpeg' ? (turbo ??= loadTurboJpeg()) : undefined])
        .then(([m, decoder]) => sharpBackend(m.default, () => load('jimp'), decoder))
      : import('jimp').then((m) => jimpBackend(m.Jimp));
    loaded.set(key, backend);
    backend.catch(() => {
      loaded.delete(key);
      if (jpeg === 'turbojpeg') turbo = undefined;
    });
  }
  return backend;
}

function parseName(value: string | undefined, source: string): ImageBackendName | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'sharp' || value === 'jimp') return value;
  throw new Error(`${source} must be "sharp" or "jimp", not ${JSON.stringify(value)}`);
}

function parseDecoder(value: string | undefined, source: string): JpegDecoderName | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'turbojpeg' || value === 'libvips') return value;
  throw new Error(`${source} must be "turbojpeg" or "libvips", not ${JSON.stringify(value)}`);
}

/** sharp, with TurboJPEG for JPEGs when asked for (it must load) or when it loads unasked. */
async function loadSharp(logger: Logger, jpeg: JpegDecoderName | undefined): Promise<ImageBackend> {
  if (jpeg !== undefined) return load('sharp', jpeg);
  const sharp = await load('sharp', 'libvips');
  try {
    return await load('sharp', 'turbojpeg');
  } catch (error) {
    logger.info('JPEGs are decoded by libvips: install libjpeg-turbo\'s TurboJPEG library (Debian: libturbojpeg0, Ubuntu: libturbojpeg) to decode them with Pillow\'s exact pixels at two thirds of the CPU', { error: String(error) });
    return sharp;
  }
}

/**
 * The image backend to use: the one asked for (option, else `NODESERVE_IMAGE_BACKEND`), else sharp,
 * falling back to jimp when sharp's native library cannot load on this host. sharp decodes JPEGs
 * with `jpegDecoder` (option, else `NODESERVE_JPEG_DECODER`): `turbojpeg` fails if libjpeg-turbo's
 * TurboJPEG library cannot load, `libvips` never tries it, and unset uses TurboJPEG where it loads.
 */
export async function selectImageBackend(logger: Logger, requested?: string, jpegDecoder?: string): Promise<ImageBackend> {
  const name = parseName(requested, 'the image backend') ?? parseName(process.env[IMAGE_BACKEND_ENV], IMAGE_BACKEND_ENV);
  const jpeg = parseDecoder(jpegDecoder, 'the JPEG decoder') ?? parseDecoder(process.env[JPEG_DECODER_ENV], JPEG_DECODER_ENV);
  if (name === 'jimp') {
    // jimp decodes JPEGs itself: a TurboJPEG asked for would be silently unused.
    if (jpeg === 'turbojpeg') throw new Error('the JPEG decoder "turbojpeg" works with the sharp image backend, not jimp');
    return load('jimp');
  }
  if (name === 'sharp') return loadSharp(logger, jpeg);
  try {
    return await loadSharp(logger, jpeg);
  } catch (error) {
    if (jpeg === 'turbojpeg') throw error;
    logger.warn('sharp could not load; decoding images with jimp (pure JavaScript, several times slower, no WebP)', { error: String(error) });
    return load('jimp');
  }
}
