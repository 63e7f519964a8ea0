import { describe, expect, it } from '@jest/globals';
import {
  HandlerError, imagenetTransform, preprocessImage, selectImageBackend, type ImageBackend, type Logger,
} from '@nodeserve/handler-sdk';
import { probeImage } from '../src/image/probe.js';
import { resizeAndCrop } from '../src/image/resample.js';
import { Jimp } from 'jimp';
import sharp from 'sharp';
import { image } from '../../../test/support/handler-context.js';

const silent: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const transform = imagenetTransform(224);

async function backends(): Promise<ImageBackend[]> {
  return Promise.all([selectImageBackend(silent, 'sharp'), selectImageBackend(silent, 'jimp')]);
}

/** Mean absolute difference of two normalised images (in units of normalised intensity). */
function meanAbsDiff(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

function failure(promise: Promise<unknown>): Promise<HandlerError> {
  return promise.then(() => { throw new Error('expected a failure'); }, (e: HandlerError) => e);
}

describe('probeImage', () => {
  it('reads format and size from the headers of JPEG, PNG, WebP, GIF and BMP', async () => {
    const kitten = image('kitten.jpg');
    const small = sharp(kitten).resize(300, 200, { fit: 'fill' });
    const jimp = await Jimp.fromBuffer(await small.clone().png().toBuffer());
    const encoded = {
      jpeg: kitten,
      png: await small.clone().png().toBuffer(),
      webp: await small.clone().webp().toBuffer(),
      gif: await small.clone().gif().toBuffer(),
      bmp: await jimp.getBuffer('image/bmp'),
    };
    expect(probeImage(encoded.jpeg, 1e9)).toEqual({ format: 'jpeg', width: 720, height: 720 });
    for (const format of ['png', 'webp', 'gif', 'bmp'] as const) {
      expect(probeImage(encoded[format], 1e9)).toEqual({ format, width: 300, height: 200 });
    }
    expect(probeImage(await small.clone().webp({ lossless: true }).toBuffer(), 1e9)).toEqual({ format: 'webp', width: 300, height: 200 });
  });

  it('refuses a declared size over the pixel limit before anything is decoded', () => {
    expect(() => probeImage(image('kitten.jpg'), 720 * 720 - 1)).toThrow(/720x720 \(518400 pixels\), over the limit of 518399/);
  });
});

describe('resizeAndCrop', () => {
  it("enlarges with Pillow's bilinear conventions: pixel centres at +0.5, weights renormalised at the edges", () => {
    // Each row a ramp 0, 100, 200, 50; Pillow 12's Image.resize((8, 8), BILINEAR) of it gives every row as below.
    const ramp = [0, 100, 200, 50];
    const pixels = Uint8Array.from({ length: 4 * 4 * 3 }, (_, i) => ramp[Math.floor(i / 3) % 4]!);
    const out = resizeAndCrop(pixels, 4, 4, 3, { ...transform, resize: 8, crop: 8 });
    const expected = [0, 25, 75, 125, 175, 163, 88, 50];
    for (let y = 0; y < 8; y++) {
      expect(Array.from({ length: 8 }, (_, x) => out[(y * 8 + x) * 3 + 1])).toEqual(expected);
    }
  });

  it('computes only the centre crop, the same pixels as resizing everything and cropping after', () => {
    const pixels = Uint8Array.from({ length: 8 * 8 * 3 }, (_, i) => (i * 37) % 256);
    const whole = resizeAndCrop(pixels, 8, 8, 3, { ...transform, resize: 12, crop: 12 });
    const centre = resizeAndCrop(pixels, 8, 8, 3, { ...transform, resize: 12, crop: 8 });
    // The 8x8 crop of the 12x12 image starts at (2, 2).
    for (let y = 0; y < 8; y++) {
      const row = whole.subarray(((y + 2) * 12 + 2) * 3, ((y + 2) * 12 + 10) * 3);
      expect(centre.subarray(y * 8 * 3, (y + 1) * 8 * 3)).toEqual(row);
    }
  });
});

describe('image preprocessing', () => {
  it('gives the same tensor with sharp and jimp on every format they share, within resampling noise', async () => {
    const [viaSharp, viaJimp] = await backends();
    const kitten = image('kitten.jpg');
    const png = await sharp(kitten).png().toBuffer();
    const bmp = await (await Jimp.fromBuffer(png)).getBuffer('image/bmp');
    for (const bytes of [kitten, png, bmp, image('bus.jpg')]) {
      const a = await preprocessImage(bytes, viaSharp!, transform);
      const b = await preprocessImage(bytes, viaJimp!, transform);
      expect(a).toHaveLength(3 * 224 * 224);
      expect(meanAbsDiff(a, b)).toBeLessThan(0.08);
    }
  });

  it('decodes WebP and GIF with sharp like the JPEG they were made from', async () => {
    const [viaSharp] = await backends();
    const kitten = image('kitten.jpg');
    const reference = await preprocessImage(await sharp(kitten).png().toBuffer(), viaSharp!, transform);
    for (const bytes of [await sharp(kitten).webp({ quality: 95 }).toBuffer(), await sharp(kitten).gif().toBuffer()]) {
      expect(meanAbsDiff(await preprocessImage(bytes, viaSharp!, transform), reference)).toBeLessThan(0.15);
    }
  });

  it('turns EXIF-rotated photos upright with both backends', async () => {
    const dog = image('Dog2.jpg');
    // Stored sideways (rotated 90° anticlockwise) with orientation 6, "rotate 90° clockwise to view".
    const sideways = await sharp(dog).rotate(-90).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toBuffer();
    // The header says so before any decoding: the sharp backend takes the upright size from it.
    expect(probeImage(sideways, 1e9)).toEqual({ format: 'jpeg', width: 664, height: 450, orientation: 6 });
    for (const backend of await backends()) {
      const upright = await preprocessImage(dog, backend, transform);
      const fromSideways = await preprocessImage(sideways, backend, transform);
      const unrotated = await preprocessImage(await sharp(dog).rotate(-90).jpeg({ quality: 95 }).toBuffer(), backend, transform);
      expect(meanAbsDiff(fromSideways, upright)).toBeLessThan(0.1);
      expect(meanAbsDiff(unrotated, upright)).toBeGreaterThan(0.3);
    }
  });

  it('gives greyscale images three equal channels and drops alpha', async () => {
    const [viaSharp, viaJimp] = await backends();
    const grey = await sharp(image('kitten.jpg')).greyscale().jpeg().toBuffer();
    const rgba = await sharp(image('kitten.jpg')).ensureAlpha(0.5).png().toBuffer();
    for (const backend of [viaSharp!, viaJimp!]) {
      const chw = await preprocessImage(grey, backend, transform);
      const plane = 224 * 224;
      const pixel = 1000;
      const raw = [0, 1, 2].map((c) => chw[c * plane + pixel]! * transform.std[c]! + transform.mean[c]!);
      expect(raw[0]).toBeCloseTo(raw[1]!, 2);
      expect(raw[1]).toBeCloseTo(raw[2]!, 2);
      const withAlpha = await preprocessImage(rgba, backend, transform);
      expect(meanAbsDiff(withAlpha, await preprocessImage(image('kitten.jpg'), backend, transform))).toBeLessThan(0.05);
    }
  });

  it.each(['sharp', 'jimp'] as const)('answers typed 400s for bad images with %s', async (name) => {
    const backend = await selectImageBackend(silent, name);
    const kitten = image('kitten.jpg');
    const png = await sharp(kitten).png().toBuffer();
    const bomb = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } }).png().toBuffer();
    bomb.writeUInt32BE(20_000, 16);
    bomb.writeUInt32BE(20_000, 20);
    const cases: Array<[Uint8Array, string, RegExp]> = [
      [new Uint8Array(0), 'ImageUnreadable', /empty/],
      [new TextEncoder().encode('{"not": "an image"}'), 'ImageUnreadable', /not an image: expected JPEG, PNG, WebP, GIF or BMP/],
      [kitten.subarray(0, 200), 'ImageUnreadable', /truncated/],
      [kitten.subarray(0, 50_000), 'ImageUnreadable', /corrupt or truncated/],
      [png.subarray(0, png.length >> 1), 'ImageUnreadable', /corrupt or truncated/],
      [bomb, 'ImageTooLarge', /20000x20000 \(400000000 pixels\), over the limit of 40000000 pixels/],
    ];
    for (const [bytes, code, message] of cases) {
      const error = await failure(preprocessImage(bytes, backend, transform));
      expect([error.code, error.status]).toEqual([code, 400]);
      expect(error.message).toMatch(message);
    }
  });

  it('honours a configured pixel limit', async () => {
    const [viaSharp] = await backends();
    const error = await failure(preprocessImage(image('bus.jpg'), viaSharp!, transform, 810 * 1080 - 1));
    expect(error.code).toBe('ImageTooLarge');
  });

  it('selects the backend from NODESERVE_IMAGE_BACKEND and rejects unknown names', async () => {
    process.env.NODESERVE_IMAGE_BACKEND = 'jimp';
    try {
      expect((await selectImageBackend(silent)).name).toBe('jimp');
      expect((await selectImageBackend(silent, 'sharp')).name).toBe('sharp');
      process.env.NODESERVE_IMAGE_BACKEND = 'gdi';
      await expect(selectImageBackend(silent)).rejects.toThrow(/NODESERVE_IMAGE_BACKEND must be "sharp" or "jimp"/);
    } finally {
      delete process.env.NODESERVE_IMAGE_BACKEND;
    }
    expect((await selectImageBackend(silent)).name).toBe('sharp');
  });
});
