import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { imagenetTransform, type ImageTransform } from '@nodeserve/handler-sdk';
import { resampleRgb } from '../src/image/resample-simd.js';
import { resizeAndCrop } from '../src/image/resample.js';
import { RESAMPLE_WASM, RESAMPLE_WAT_SHA256 } from '../src/image/resample-wasm.generated.js';
// @ts-expect-error: a plain .mjs script without types
import { assemble } from '../scripts/build-wasm.mjs';

/** Deterministic pixels with edges and gradients, so that every weight matters. */
function pixels(width: number, height: number, seed: number): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  let s = seed;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const x = Math.floor(i / 3) % width;
    const y = Math.floor(i / 3 / width);
    out[i] = (s >>> 24) % 3 === 0 ? s >>> 24 : (x * 7 + y * 3 + (i % 3) * 50) & 255;
  }
  return out;
}

/** The stored image turned upright per EXIF orientation, the slow and obvious way (Pillow's exif_transpose). */
function upright(src: Uint8Array, w: number, h: number, orientation: number): { data: Uint8Array; width: number; height: number } {
  if (orientation === 1) return { data: src, width: w, height: h };
  const sideways = orientation >= 5;
  const width = sideways ? h : w;
  const height = sideways ? w : h;
  const data = new Uint8Array(src.length);
  for (let v = 0; v < height; v++) {
    for (let u = 0; u < width; u++) {
      const [x, y] = ({
        1: [u, v], 2: [w - 1 - u, v], 3: [w - 1 - u, h - 1 - v], 4: [u, h - 1 - v],
        5: [v, u], 6: [v, h - 1 - u], 7: [w - 1 - v, h - 1 - u], 8: [w - 1 - v, u],
      } as Record<number, [number, number]>)[orientation]!;
      data.set(src.subarray((y * w + x) * 3, (y * w + x) * 3 + 3), (v * width + u) * 3);
    }
  }
  return { data, width, height };
}

/** resampleRgb's RGBX output against resample.ts's RGB, which is Pillow's arithmetic (image-preprocessing.test.ts). */
function expectSameAsJavaScript(src: Uint8Array, w: number, h: number, orientation: number, t: ImageTransform): void {
  const ours = resampleRgb(src, w, h, orientation, t);
  const turned = upright(src, w, h, orientation);
  const reference = resizeAndCrop(turned.data, turned.width, turned.height, 3, t);
  expect(ours.length).toBe(t.crop * t.crop * 4);
  let differing = 0;
  for (let p = 0; p < t.crop * t.crop; p++) {
    for (let c = 0; c < 3; c++) if (ours[p * 4 + c] !== reference[p * 3 + c]) differing++;
  }
  expect({ w, h, orientation, crop: t.crop, differing }).toEqual({ w, h, orientation, crop: t.crop, differing: 0 });
}

describe('resampleRgb (WebAssembly SIMD)', () => {
  it('is the module resample.wat assembles to', async () => {
    const text = readFileSync(new URL('../src/image/resample.wat', import.meta.url), 'utf8');
    expect(createHash('sha256').update(text).digest('hex')).toBe(RESAMPLE_WAT_SHA256);
    expect(((await assemble(text)) as Buffer).toString('base64')).toBe(RESAMPLE_WASM);
  });

  it('gives the JavaScript resampler\'s pixels for every EXIF orientation, shrinking and enlarging', () => {
    // Landscape, portrait, smaller than the resize on one side and on both, and a 5:1 strip.
    const sizes: Array<[number, number]> = [[720, 540], [333, 517], [300, 200], [150, 120], [1000, 200]];
    for (const [w, h] of sizes) {
      const src = pixels(w, h, w * 31 + h);
      for (let orientation = 1; orientation <= 8; orientation++) expectSameAsJavaScript(src, w, h, orientation, imagenetTransform(224));
    }
  });

  it('handles crops whose rows are not a multiple of 16 bytes, and inputs of other sizes', () => {
    for (const crop of [299, 227, 1, 5]) {
      expectSameAsJavaScript(pixels(640, 427, crop), 640, 427, 1, imagenetTransform(crop));
      expectSameAsJavaScript(pixels(427, 640, crop + 1), 427, 640, 6, imagenetTransform(crop));
    }
  });

  it('resamples a 12-megapixel photo in memory of its own, then the small ones as before', () => {
    // 36 MB of RGB: more than the shared instance keeps. Tiles of a smaller image, as generating it is slow.
    const tile = pixels(1000, 1001, 7);
    const big = new Uint8Array(4000 * 3000 * 3);
    for (let at = 0; at < big.length; at += tile.length) big.set(tile.subarray(0, Math.min(tile.length, big.length - at)), at);
    expectSameAsJavaScript(big, 4000, 3000, 1, imagenetTransform(224));
    expectSameAsJavaScript(pixels(720, 720, 9), 720, 720, 1, imagenetTransform(224));
  });

  it('leaves black what a crop larger than the resize takes from outside the image, as Pillow pads it', () => {
    const wide: ImageTransform = { ...imagenetTransform(224), resize: 200 };
    expectSameAsJavaScript(pixels(400, 300, 3), 400, 300, 1, wide);
    const out = resampleRgb(pixels(400, 300, 3), 400, 300, 1, wide);
    // The first row lies above the 200-row image: black.
    expect(Array.from(out.subarray(0, 224 * 4)).filter((_, i) => i % 4 !== 3).every((v) => v === 0)).toBe(true);
  });

  it('refuses a buffer shorter than the size it is said to hold', () => {
    expect(() => resampleRgb(new Uint8Array(10), 4, 4, 1, imagenetTransform(224))).toThrow(/10 bytes for 4x4 RGB/);
  });
});
