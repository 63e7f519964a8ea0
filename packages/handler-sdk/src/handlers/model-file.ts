import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ModelFailed } from '../errors.js';
import type { Context } from '../types.js';

/**
 * The ONNX file to load: the manifest's `model.serializedFile` (TorchServe style), else the only
 * `.onnx` file at the top of the model directory (MMS `--model-path` archives).
 */
export function resolveModelFile(context: Context): string {
  const { modelDir } = context.systemProperties;
  const serialized = context.manifest.model.serializedFile;
  if (serialized !== undefined) return join(modelDir, serialized);
  // Hidden files are caches written next to the model, never the model itself.
  const candidates = readdirSync(modelDir).filter((f) => f.endsWith('.onnx') && !f.startsWith('.'));
  if (candidates.length === 1) return join(modelDir, candidates[0]!);
  throw new ModelFailed(
    candidates.length === 0
      ? 'the archive has no model file: give --serialized-file, or put one .onnx file at the top of --model-path'
      : `the archive has several .onnx files (${candidates.join(', ')}): name the model with --serialized-file`,
  );
}
