/**
 * What a test may assert about MobileNet v2 int8's answer for a shared photo, on any x86-64 CPU.
 *
 * The reference is `../shared/models/verify-results.json` (the table in PROVENANCE.md): top-5 softmax
 * probabilities measured with jimp on an AVX-512 VNNI machine. Other machines give other numbers. ONNX
 * Runtime's int8 kernels differ between CPUs with and without AVX-512/VNNI, and sharp and jimp decode and
 * resize differently. Measured on the nine photos (sharp and jimp, on AVX-512 VNNI and AVX2-only kernels):
 * - top-1 probabilities moved by up to 0.32 (bald_eagle 0.997 → 0.68 on AVX2; dog.jpg 0.68 with sharp,
 *   0.42 with jimp);
 * - top-1 flipped only where the reference margin was under 0.3: bus.jpg (minibus 0.54 / police van 0.39)
 *   gave police van on AVX2 with both decoders;
 * - no reference top-1 with a margin of 0.3 or more ever lost first place.
 * So a test asserts that the top-1 is one of the reference's *contenders*: the classes within 0.3 of the
 * reference top-1. Photos with one contender (Dog1, Dog2, croco, pelican, bald_eagle) have a stable
 * top-1; kitten.jpg's is "tabby or tiger cat". Probabilities are never compared across machines or
 * decoders; only the same input through two paths on one machine (batch vs single, tensor vs image) may
 * be compared closely, because ONNX Runtime runs the same kernels on the same data there.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SHARED_MODELS = join(REPO_ROOT, '../shared/models');
export const SHARED_IMAGES = join(REPO_ROOT, '../shared/images');

/** A reference top-1 may lose first place only to classes within this much probability of it. */
export const TOP1_MARGIN = 0.3;

export interface ReferenceClass {
  /** Class index in the model's 1000 outputs. */
  index: number;
  /** Display label, spaces between words (`tiger cat`), as the SDK prints it. */
  label: string;
  /** Softmax probability on the reference machine. */
  probability: number;
}

interface VerifyResults {
  [model: string]: { images: Record<string, { top5: Array<{ idx: number; label: string; p: number }> }> };
}

let cached: Map<string, ReferenceClass[]> | undefined;

/** Reference top-5 of every shared photo, by file name (`kitten.jpg`). */
export function referenceTop5(): Map<string, ReferenceClass[]> {
  if (cached) return cached;
  const results = JSON.parse(readFileSync(join(SHARED_MODELS, 'verify-results.json'), 'utf8')) as VerifyResults;
  const images = results['mobilenetv2-12-int8.onnx']!.images;
  cached = new Map(Object.entries(images).map(([name, { top5 }]) => [
    name,
    top5.map((c) => ({ index: c.idx, label: c.label.replace(/_/g, ' '), probability: c.p })),
  ]));
  return cached;
}

/** The labels a correct run may put first for `image`: reference classes within {@link TOP1_MARGIN} of its top-1. */
export function contenders(image: string): string[] {
  const top5 = referenceTop5().get(image);
  if (!top5) throw new Error(`no reference classification for ${image} in ../shared/models/verify-results.json`);
  return top5.filter((c) => c.probability >= top5[0]!.probability - TOP1_MARGIN).map((c) => c.label);
}

/** Photos whose top-1 is the same on every CPU and decoder: one contender. */
export function wideMarginPhotos(): string[] {
  return [...referenceTop5().keys()].filter((name) => contenders(name).length === 1);
}

/** The one stable top-1 of a wide-margin photo; throws for a close call, which no test may pin. */
export function stableTop1(image: string): string {
  const labels = contenders(image);
  if (labels.length !== 1) throw new Error(`${image} is a close call (${labels.join(' / ')}): assert membership in contenders() instead`);
  return labels[0]!;
}

/** TorchServe's labels use `_` (`tiger_cat`); the SDK and the reference print spaces. */
export const displayLabel = (label: string): string => label.replace(/_/g, ' ');
