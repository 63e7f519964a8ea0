import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The models the benchmark serves: the synthetic ResNet-50 (generated once, outside git: cost is what
 * matters, and it is always available), the real ResNet-50 when the download script fetched it, and
 * the real int8 MobileNet v2 beside the repository, where decoding the JPEG costs more than inference.
 *
 * @typedef {{ id: string, label: string, path: string, bytes: number, weights: 'resnet50' | 'mobilenet', speed: 'slow' | 'fast' }} BenchModel
 */

/**
 * @param {string} root
 * @param {string[]} wanted ids from --models
 * @param {(line: string) => void} log
 * @returns {BenchModel[]}
 */
export function resolveModels(root, wanted, log) {
  /** @type {BenchModel[]} */
  const models = [];
  const add = (/** @type {Omit<BenchModel, 'bytes'>} */ m) => models.push({ ...m, bytes: statSync(m.path).size });
  if (wanted.includes('synthetic')) {
    const path = join(root, 'examples/resnet50/model/resnet50-synthetic.onnx');
    if (!existsSync(path)) {
      log('generating the synthetic ResNet-50 (random weights, same graph and size as resnet50-v1-7)');
      const gen = spawnSync(join(root, 'node_modules/.bin/tsx'), [join(root, 'examples/resnet50/scripts/generate-synthetic-resnet50.ts'), '--out', path], {
        cwd: root,
        stdio: 'inherit',
      });
      if (gen.status !== 0) throw new Error('generating the synthetic ResNet-50 failed');
    }
    add({ id: 'resnet50-synthetic', label: 'ResNet-50 (synthetic weights)', path, weights: 'resnet50', speed: 'slow' });
  }
  const real = join(root, 'examples/resnet50/model/resnet50-v1-7.onnx');
  if (wanted.includes('resnet50')) {
    if (existsSync(real)) add({ id: 'resnet50-v1-7', label: 'ResNet-50 v1 (real weights)', path: real, weights: 'resnet50', speed: 'slow' });
    else log('real ResNet-50 not downloaded (npx tsx examples/resnet50/scripts/download-resnet50.ts): skipped');
  }
  const mobilenet = join(root, '../shared/models/mobilenetv2-12-int8.onnx');
  if (wanted.includes('mobilenet')) {
    if (existsSync(mobilenet)) add({ id: 'mobilenetv2-12-int8', label: 'MobileNet v2 int8 (real)', path: mobilenet, weights: 'mobilenet', speed: 'fast' });
    else log(`${mobilenet} not found: skipped`);
  }
  return models;
}
