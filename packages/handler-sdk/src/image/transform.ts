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

/** Normalised value of each 8-bit level per channel (R 0–255, G 256–511, B 512–767), by transform. */
const levelTables = new WeakMap<ImageTransform, Float32Array>();

function levelTable(t: ImageTransform): Float32Array {
  let table = levelTables.get(t);
  if (table === undefined) {
    table = new Float32Array(3 * 256);
    for (let c = 0; c < 3; c++) {
      // x / 255 then (x - mean) / std, as x · 1/(255·std) − mean/std in double, stored as float32.
      const scale = 1 / (255 * t.std[c]!);
      const bias = -t.mean[c]! / t.std[c]!;
      for (let v = 0; v < 256; v++) table[c * 256 + v] = v * scale + bias;
    }
    levelTables.set(t, table);
  }
  return table;
}

/**
 * Packed pixels (`channels` bytes per pixel, R, G, B first) of a `crop`×`crop` image to normalised
 * CHW float32, in one pass: a pixel has only 256 levels, so each value is a lookup in a table of the
 * 768 normalised levels, the same float32 the arithmetic gives. Written into `out` (3×`crop`×`crop`
 * values, such as one image's slot of a batch tensor) when given, else into a new array.
 */
export function toChw(pixels: Uint8Array, channels: number, t: ImageTransform, out?: Float32Array): Float32Array {
  const plane = t.crop * t.crop;
  if (out !== undefined && out.length !== 3 * plane) throw new RangeError(`toChw: out holds ${out.length} values, not 3×${t.crop}×${t.crop}`);
  out ??= new Float32Array(3 * plane);
  const table = levelTable(t);
  for (let i = 0, p = 0; i < plane; i++, p += channels) {
    out[i] = table[pixels[p]!]!;
    out[plane + i] = table[256 + pixels[p + 1]!]!;
    out[2 * plane + i] = table[512 + pixels[p + 2]!]!;
  }
  return out;
}
