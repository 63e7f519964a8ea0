import { labelled, topK } from '../classification/top-k.js';
import { softmax } from '../classification/softmax.js';
import { InvalidInput, ModelFailed } from '../errors.js';
import { loadLabels } from '../labels/load-labels.js';
import { splitBatch } from '../tensors/batch.js';
import type { Tensor } from 'onnxruntime-node';
import type { Context, HandlerResult, RequestInput } from '../types.js';
import type { Batch, ModelOutputs } from './base-handler.js';
import { handlerSettings } from './settings.js';
import { VisionHandler } from './vision-handler.js';

export const DEFAULT_TOPK = 5;
const MAX_TOPK = 1000;

/** What one request asks for: `?topk=3`, or `{"topk": 3}` in a JSON body; `undefined` when it does not say. */
export function requestedTopk(request: RequestInput): number | undefined {
  const json = request.json as { topk?: unknown } | undefined;
  const raw = request.query.topk ?? (json !== null && typeof json === 'object' ? json.topk : undefined);
  if (raw === undefined) return undefined;
  const k = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d{1,4}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(k) || k < 1 || k > MAX_TOPK) throw new InvalidInput(`topk must be an integer from 1 to ${MAX_TOPK}, not ${JSON.stringify(raw)}`);
  return k;
}

/**
 * Image classification as MMS and TorchServe answer it: softmax over the first output, the top k
 * classes (default 5) labelled from the archive's `index_to_name.json` or `synset.txt`, as
 * `[{"tabby": 0.47}, {"tiger cat": 0.40}, …]`.
 */
export class ImageClassifier extends VisionHandler {
  #labels: string[] | undefined;
  #topk = DEFAULT_TOPK;

  /** Classes answered when a request does not say: the model config's `handler.topk`, else 5. */
  get topk(): number {
    return this.#topk;
  }

  override async initialize(context: Context): Promise<void> {
    this.#topk = handlerSettings(context).topk ?? DEFAULT_TOPK;
    this.#labels = loadLabels(context.systemProperties.modelDir);
    await super.initialize(context);
    if (this.#labels === undefined) context.logger.warn('no index_to_name.json or synset.txt in the archive: answering class indices');
  }

  override async preprocess(request: RequestInput): Promise<Tensor> {
    requestedTopk(request);
    return super.preprocess(request);
  }

  override async postprocess(outputs: ModelOutputs, batch: Batch): Promise<HandlerResult[]> {
    const name = this.session.outputNames[0]!;
    const output = outputs[name];
    if (output === undefined || output.type !== 'float32') throw new ModelFailed(`output "${name}" is not a float32 tensor of class scores`);
    const classes = output.dims[output.dims.length - 1] ?? 0;
    return splitBatch(output, batch.rows).map((part, i) => {
      const k = Math.min(requestedTopk(batch.requests[i]!) ?? this.#topk, classes);
      const data = part.data as Float32Array;
      const answers = Array.from({ length: part.dims[0] ?? 1 }, (_, row) =>
        labelled(topK(softmax(data.subarray(row * classes, (row + 1) * classes)), k), this.#labels));
      return answers.length === 1 ? answers[0] : answers;
    });
  }
}
