import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { imagenetTransform, preprocessImage, selectImageBackend } from '@nodeserve/handler-sdk';

const PEER_TENSORS = fileURLToPath(new URL('../python/peer_tensors.py', import.meta.url));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * How far the handler SDK's preprocessing lands from the peers' (PIL's bilinear resize and numpy's
 * normalisation, from `imagenet_onnx.py` itself) on every photo in `imagesDir`. Differences are in
 * levels of the 0–255 source scale: each normalised value's difference divided by its channel's
 * scale, 1 / (255 · std). Returns `{ ok: false, reason }` when the Python side cannot run.
 *
 * @param {{ python: string, peerDir: string, imagesDir: string, side?: number, backend?: string, jpegDecoder?: string }} o
 */
export async function comparePreprocessing(o) {
  const side = o.side ?? 224;
  const images = readdirSync(o.imagesDir).filter((f) => /\.(jpe?g|png|webp)$/i.test(f)).sort().map((f) => join(o.imagesDir, f));
  const out = mkdtempSync(join(tmpdir(), 'nodeserve-pixel-check-'));
  try {
    const r = spawnSync(o.python, [PEER_TENSORS, '--peer-dir', o.peerDir, '--side', String(side), '--out', out, ...images], { encoding: 'utf8' });
    if (r.error || r.status !== 0) {
      const why = r.error?.message ?? r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`;
      return { ok: false, reason: `the peers' preprocessing did not run: ${why}` };
    }
    /** @type {{ tensors: Array<{ image: string, tensor: string }> }} */
    const written = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
    const transform = imagenetTransform(side);
    const backend = await selectImageBackend(quiet, o.backend, o.jpegDecoder);
    const levels = transform.std.map((s) => 255 * s);
    const plane = side * side;
    const perImage = [];
    let sum = 0;
    let count = 0;
    for (const { image, tensor } of written.tensors) {
      const bytes = readFileSync(tensor);
      const theirs = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      const ours = await preprocessImage(readFileSync(image), backend, transform);
      let max = 0;
      let imageSum = 0;
      let over2 = 0;
      for (let i = 0; i < ours.length; i++) {
        const d = Math.abs(/** @type {number} */ (ours[i]) - /** @type {number} */ (theirs[i])) * /** @type {number} */ (levels[Math.floor(i / plane)]);
        if (d > max) max = d;
        if (d > 2.5) over2++;
        imageSum += d;
      }
      sum += imageSum;
      count += ours.length;
      perImage.push({ image: image.split('/').pop(), maxLevels: max, meanLevels: imageSum / ours.length, over2Share: over2 / ours.length });
    }
    const worst = perImage.reduce((a, b) => (b.maxLevels > a.maxLevels ? b : a));
    return { ok: true, backend: backend.jpegDecoder ? `${backend.name}, JPEGs decoded by ${backend.jpegDecoder}` : backend.name, images: perImage.length, maxLevels: worst.maxLevels, worstImage: worst.image, meanLevels: sum / count, perImage };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
