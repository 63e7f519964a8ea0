/** The standard ImageNet preprocessing, parametrised by the model's input size. */
export interface ImageTransform {
  /** The shorter side is resized to this, keeping the aspect ratio. */
  resize: number;
  /** Then a centred square of this side is cropped. */
  crop: number;
  /** Per-channel mean and standard deviation (R, G, B) applied after scaling to [0, 1]. */
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/** ImageNet's 256 → 224 ratio, scaled to the model's input side. */
export function imagenetTransform(crop = 224): ImageTransform {
  return { resize: Math.round((crop * 256) / 224), crop, mean: IMAGENET_MEAN, std: IMAGENET_STD };
}

export interface Geometry {
  width: number;
  height: number;
  left: number;
  top: number;
}

/** Resized size and crop offset for an upright `width`×`height` image, as the zoo's reference script computes them. */
export function geometry(width: number, height: number, t: ImageTransform): Geometry {
  const scale = t.resize / Math.min(width, height);
  const w = width <= height ? t.resize : Math.max(t.resize, Math.round(width * scale));
  const h = height < width ? t.resize : Math.max(t.resize, Math.round(height * scale));
  return { width: w, height: h, left: Math.floor((w - t.crop) / 2), top: Math.floor((h - t.crop) / 2) };
}

/**
 * Packed pixels (`channels` bytes per pixel, R, G, B first) of a `crop`×`crop` image to normalised
 * CHW float32, in one pass.
 */
export function toChw(pixels: Uint8Array, channels: number, t: ImageTransform): Float32Array {
  const plane = t.crop * t.crop;
  const out = new Float32Array(3 * plane);
  const scale = t.std.map((s) => 1 / (255 * s));
  const bias = t.mean.map((m, c) => -m / t.std[c]!);
  const [s0, s1, s2] = scale as [number, number, number];
  const [b0, b1, b2] = bias as [number, number, number];
  for (let i = 0, p = 0; i < plane; i++, p += channels) {
    out[i] = pixels[p]! * s0 + b0;
    out[plane + i] = pixels[p + 1]! * s1 + b1;
    out[2 * plane + i] = pixels[p + 2]! * s2 + b2;
  }
  return out;
}
