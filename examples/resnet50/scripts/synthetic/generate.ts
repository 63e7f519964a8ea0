import { randomBytes } from 'node:crypto';
import { access, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeModel, type OnnxModel } from '../onnx/onnx-proto.js';
import { buildResNet50V1 } from './resnet50-v1.js';

export const DEFAULT_SYNTHETIC_MODEL_PATH = fileURLToPath(new URL('../../model/resnet50-synthetic.onnx', import.meta.url));
export const DEFAULT_SEED = 50;

export const SYNTHETIC_NOTICE =
  'SYNTHETIC WEIGHTS: ResNet-50 v1 with the exact topology of the ONNX Model Zoo resnet50-v1-7.onnx and seeded ' +
  'random weights. Its predictions and labels are meaningless; use it only to measure serving cost.';

export interface GenerateOptions {
  out?: string;
  seed?: number;
  /** Replace an existing file at `out`; without it an existing file is an error. */
  force?: boolean;
}

export interface GenerateResult {
  path: string;
  /** Learnable parameters (conv weights, BN gamma/beta, dense weight/bias). */
  parameters: number;
  bytes: number;
  ms: number;
}

export class OutputExistsError extends Error {
  readonly code = 'OUTPUT_EXISTS';

  constructor(readonly path: string) {
    super(`${path} already exists; pass --force (force: true) to replace it`);
    this.name = 'OutputExistsError';
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export async function generateSyntheticResNet50(options: GenerateOptions = {}): Promise<GenerateResult> {
  const started = performance.now();
  const path = resolve(options.out ?? DEFAULT_SYNTHETIC_MODEL_PATH);
  const seed = options.seed ?? DEFAULT_SEED;
  if (!options.force && (await exists(path))) throw new OutputExistsError(path);

  const { graph, parameters } = buildResNet50V1(seed);
  const model: OnnxModel = {
    // IR 3 / opset 7 as the zoo file: onnxruntime 1.30 loads both and applies its full optimisations.
    ir_version: 3,
    opset_import: [{ domain: '', version: 7 }],
    producer_name: 'nodeserve-synthetic-resnet50',
    producer_version: '1',
    model_version: 1,
    doc_string: SYNTHETIC_NOTICE,
    graph,
    metadata_props: [
      { key: 'synthetic', value: 'true' },
      { key: 'labels', value: 'meaningless: the weights are seeded random numbers, not trained' },
      { key: 'seed', value: String(seed) },
      { key: 'topology', value: 'ResNet-50 v1 (MXNet Gluon resnet50_v1), as onnx/models resnet50-v1-7.onnx' },
      { key: 'parameters', value: String(parameters) },
    ],
  };
  const bytes = encodeModel(model);

  await mkdir(dirname(path), { recursive: true });
  // Written beside the target and renamed, so a reader never sees a half-written model.
  const partial = `${path}.${randomBytes(6).toString('hex')}.part`;
  try {
    await writeFile(partial, bytes);
    await rename(partial, path);
  } finally {
    await rm(partial, { force: true });
  }
  return { path, parameters, bytes: bytes.byteLength, ms: Math.round(performance.now() - started) };
}
