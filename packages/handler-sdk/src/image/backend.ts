import type { Logger } from '../types.js';
import { jimpBackend } from './jimp-backend.js';
import { sharpBackend } from './sharp-backend.js';
import type { ImageBackend, ImageBackendName } from './types.js';

export type { DecodedPixels, ImageBackend, ImageBackendName } from './types.js';

export const IMAGE_BACKEND_ENV = 'NODESERVE_IMAGE_BACKEND';

const loaded = new Map<ImageBackendName, Promise<ImageBackend>>();

function load(name: ImageBackendName): Promise<ImageBackend> {
  let backend = loaded.get(name);
  if (backend === undefined) {
    backend = name === 'sharp'
      ? import('sharp').then((m) => sharpBackend(m.default, () => load('jimp')))
      : import('jimp').then((m) => jimpBackend(m.Jimp));
    loaded.set(name, backend);
  }
  return backend;
}

function parseName(value: string | undefined, source: string): ImageBackendName | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'sharp' || value === 'jimp') return value;
  throw new Error(`${source} must be "sharp" or "jimp", not ${JSON.stringify(value)}`);
}

/**
 * The image backend to use: the one asked for (option, else `NODESERVE_IMAGE_BACKEND`), else sharp,
 * falling back to jimp when sharp's native library cannot load on this host.
 */
export async function selectImageBackend(logger: Logger, requested?: string): Promise<ImageBackend> {
  const name = parseName(requested, 'the image backend') ?? parseName(process.env[IMAGE_BACKEND_ENV], IMAGE_BACKEND_ENV);
  if (name !== undefined) return load(name);
  try {
    return await load('sharp');
  } catch (error) {
    loaded.delete('sharp');
    logger.warn('sharp could not load; decoding images with jimp (pure JavaScript, several times slower, no WebP)', { error: String(error) });
    return load('jimp');
  }
}
