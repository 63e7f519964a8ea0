import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createArchive } from '@nodeserve/archiver';
import { runCli } from './serve.mjs';

/**
 * Packing cost: `model-archiver` on the ~100 MB model against a plain `fs.copyFile` of the same file
 * to the same disk, best of `runs` each. Where the time goes is measured alongside: `createArchive()`
 * in process (the CLI without Node's start-up), and reading the file through sha256 — the floor for
 * any archiver that records a digest of what it packs, which a copy never reads at all.
 * @param {{ root: string, modelPath: string, handler: string, runs: number }} o
 */
export async function measureArchiveCost(o) {
  const dir = await mkdtemp(join(tmpdir(), 'nodeserve-archive-bench-'));
  try {
    const copyMs = await bestOf(o.runs, async (i) => {
      await copyFile(o.modelPath, join(dir, `copy-${i}.onnx`));
    });
    const sha256Ms = await bestOf(o.runs, async () => {
      await pipeline(createReadStream(o.modelPath), createHash('sha256'));
    });
    const inProcessMs = await bestOf(o.runs, async (i) => {
      await createArchive({ modelName: 'resnet50', handler: o.handler, serializedFile: o.modelPath, exportPath: join(dir, `api-${i}`), force: true });
    });
    const archiverMs = await bestOf(o.runs, async (i) => {
      const out = join(dir, `mar-${i}`);
      await runCli(o.root, 'packages/archiver/dist/cli.js', ['--model-name', 'resnet50', '--version', '1.0', '--serialized-file', o.modelPath, '--handler', o.handler, '--export-path', out, '--force'], o.root);
    });
    const archiveBytes = (await stat(join(dir, 'mar-0', 'resnet50.mar')).catch(() => ({ size: 0 }))).size;
    const modelBytes = (await stat(o.modelPath)).size;
    return { modelBytes, archiveBytes, copyMs, archiverMs, inProcessMs, sha256Ms, ratio: archiverMs / copyMs, runs: o.runs };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * @param {number} runs
 * @param {(i: number) => Promise<void>} fn
 */
async function bestOf(runs, fn) {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn(i);
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}
