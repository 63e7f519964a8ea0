import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * Which model file the demo serves. The order is the issue's: what the user names, then the real
 * ResNet-50 the example's download script fetches, then the real pretrained MobileNet v2 beside the
 * repo, and only as a last resort a ResNet-50 with random weights (its labels mean nothing).
 *
 * @typedef {{ path: string, kind: 'given' | 'resnet50' | 'mobilenet' | 'synthetic', label: string, meaningfulLabels: boolean }} Weights
 */

/**
 * @param {string} root repository root
 * @param {string | undefined} given `--weights PATH` or `NODESERVE_WEIGHTS`; `synthetic` asks for the random-weights model
 * @returns {Weights | { generate: Weights }}
 */
export function chooseWeights(root, given) {
  const synthetic = {
    path: join(root, 'examples/resnet50/model/resnet50-synthetic.onnx'),
    kind: /** @type {const} */ ('synthetic'),
    label: 'synthetic ResNet-50 (random weights)',
    meaningfulLabels: false,
  };
  if (given === 'synthetic') return { generate: synthetic };
  if (given) {
    const path = resolve(given);
    if (!existsSync(path) || !statSync(path).isFile()) throw new Error(`--weights ${given}: no such file`);
    return { path, kind: 'given', label: `the model you gave (${given})`, meaningfulLabels: true };
  }
  const real = join(root, 'examples/resnet50/model/resnet50-v1-7.onnx');
  if (existsSync(real)) return { path: real, kind: 'resnet50', label: 'ResNet-50 v1 (ONNX Model Zoo resnet50-v1-7, pretrained)', meaningfulLabels: true };
  const mobilenet = join(root, '../shared/models/mobilenetv2-12-int8.onnx');
  if (existsSync(mobilenet)) {
    return { path: mobilenet, kind: 'mobilenet', label: 'MobileNet v2 int8 (ONNX Model Zoo mobilenetv2-12-int8, pretrained)', meaningfulLabels: true };
  }
  return { generate: synthetic };
}

/**
 * The ImageNet labels packed with the model: the synset the download script fetched, else the
 * TorchServe `index_to_name.json` beside the repository. Both map class index i to its name.
 * @param {string} root
 */
export function labelsFile(root) {
  const downloaded = join(root, 'examples/resnet50/model/synset.txt');
  return existsSync(downloaded) ? downloaded : join(root, '../shared/models/index_to_name.json');
}
