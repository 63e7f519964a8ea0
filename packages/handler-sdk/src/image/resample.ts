import { geometry, type ImageTransform } from './transform.js';

/**
 * Bilinear resampling with Pillow's conventions (`Image.resize(size, BILINEAR)`, libImaging's
 * Resample.c), which the peers' handlers and the ImageNet reference scripts use: pixel centres at
 * +0.5, a triangle filter widened by the scale factor when reducing, weights renormalised at the
 * edges, coefficients in 22-bit fixed point, the horizontal pass rounded to 8 bits before the
 * vertical one. libvips samples corner-aligned when it enlarges (a 4-pixel ramp 0, 100, 200, 50
 * doubled: libvips 0, 0, 50, 100, 150, 200, 125, 50; Pillow 0, 25, 75, 125, 175, 163, 88, 50), up
 * to 86 of 255 levels away from Pillow on the shared photos smaller than the resize, so enlarging
 * goes through here.
 */

/** Pillow's PRECISION_BITS: 32 bits less 8 for the pixel and 2 for headroom. */
const PRECISION_BITS = 22;
const HALF = 1 << (PRECISION_BITS - 1);

export interface Coefficients {
  /** First source index of each output pixel's window. */
  start: Int32Array;
  /** Window length of each output pixel. */
  size: Int32Array;
  /** `taps` fixed-point weights per output pixel. */
  weights: Int32Array;
  taps: number;
}

/** Weights of output pixels `from` … `from + count - 1` of a resize from `inSize` to `outSize` (Pillow's precompute_coeffs). */
export function coefficients(inSize: number, outSize: number, from: number, count: number): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // the triangle's support of 1, widened when reducing
  const taps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(count);
  const size = new Int32Array(count);
  const weights = new Int32Array(count * taps);
  const w = new Float64Array(taps);
  for (let o = 0; o < count; o++) {
    const center = (from + o + 0.5) * scale;
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const n = Math.min(Math.trunc(center + support + 0.5), inSize) - lo;
    let total = 0;
    for (let k = 0; k < n; k++) {
      const x = Math.abs((k + lo - center + 0.5) / filterScale);
      w[k] = x < 1 ? 1 - x : 0;
      total += w[k]!;
    }
    for (let k = 0; k < n; k++) {
      const v = total === 0 ? 0 : (w[k]! / total) * (1 << PRECISION_BITS);
      weights[o * taps + k] = v < 0 ? Math.trunc(v - 0.5) : Math.trunc(v + 0.5);
    }
    start[o] = lo;
    // No source pixel under an output pixel outside the image (a crop larger than the resize): it
    // stays black, as Pillow's crop pads it.
    size[o] = Math.max(n, 0);
  }
  return { start, size, weights, taps };
}

const clip8 = (v: number): number => (v <= 0 ? 0 : v >= 255 ? 255 : v);

/**
 * Packed pixels (`channels` bytes each) of an upright `width`×`height` image, resized so that the
 * shorter side is `transform.resize` and centre-cropped to `transform.crop`, as Pillow's
 * `resize(…, BILINEAR).crop(…)` would give them; only the cropped pixels are computed.
 */
export function resizeAndCrop(pixels: Uint8Array, width: number, height: number, channels: number, transform: ImageTransform): Uint8Array {
  const g = geometry(width, height, transform);
  const side = transform.crop;
  const h = coefficients(width, g.width, g.left, side);
  const v = coefficients(height, g.height, g.top, side);
  // The source rows the vertical pass reads.
  const firstRow = v.start[0]!;
  const lastRow = v.start[side - 1]! + v.size[side - 1]!;
  const rows = lastRow - firstRow;
  const stride = width * channels;
  const across = new Uint8Array(rows * side * channels);
  for (let r = 0; r < rows; r++) {
    const src = (firstRow + r) * stride;
    const dst = r * side * channels;
    for (let x = 0; x < side; x++) {
      const s0 = src + h.start[x]! * channels;
      const n = h.size[x]!;
      const wk = x * h.taps;
      for (let c = 0; c < channels; c++) {
        let acc = HALF;
        for (let k = 0; k < n; k++) acc += pixels[s0 + k * channels + c]! * h.weights[wk + k]!;
        across[dst + x * channels + c] = clip8(acc >> PRECISION_BITS);
      }
    }
  }
  const out = new Uint8Array(side * side * channels);
  const rowBytes = side * channels;
  for (let y = 0; y < side; y++) {
    const s0 = (v.start[y]! - firstRow) * rowBytes;
    const n = v.size[y]!;
    const wk = y * v.taps;
    const dst = y * rowBytes;
    for (let i = 0; i < rowBytes; i++) {
      let acc = HALF;
      for (let k = 0; k < n; k++) acc += across[s0 + k * rowBytes + i]! * v.weights[wk + k]!;
      out[dst + i] = clip8(acc >> PRECISION_BITS);
    }
  }
  return out;
}
