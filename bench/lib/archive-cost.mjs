import { copyFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './serve.mjs';

/**
 * Packing cost: `model-archiver` on the ~100 MB model (the CLI a user runs, bundling the handler
 * included) against a plain `fs.copyFile` of the same file to the same disk; best of `runs` each.
 * @param {{ root: string, modelPath: string, handler: string, runs: number }} o
 */
export async function measureArchiveCost(o) {
  const dir = await mkdtemp(join(tmpdir(), 'nodeserve-archive-bench-'));
  try {
    const copyMs = await bestOf(o.runs, async (i) => {
      await copyFile(o.modelPath, join(dir, `copy-${i}.onnx`));
    });
    const archiverMs = await bestOf(o.runs, async (i) => {
      const out = join(dir, `mar-${i}`);
      await runCli(o.root, 'packages/archiver/dist/cli.js', ['--model-name', 'resnet50', '--version', '1.0', '--serialized-file', o.modelPath, '--handler', o.handler, '--export-path', out, '--force'], o.root);
    });
    const archiveBytes = (await stat(join(dir, 'mar-0', 'resnet50.mar')).catch(() => ({ size: 0 }))).size;
    const modelBytes = (await stat(o.modelPath)).size;
    return { modelBytes, archiveBytes, copyMs, archiverMs, ratio: archiverMs / copyMs, runs: o.runs };
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
