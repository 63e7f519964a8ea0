import { labelled, topK } from '../classification/top-k.js';
import { softmax } from '../classification/softmax.js';
import { InvalidInput, ModelFailed } from '../errors.js';
import { loadLabels } from '../labels/load-labels.js';
import { splitBatch } from '../tensors/batch.js';
import { namedTensor, tensorResponse } from '../tensors/tensor-response.js';
import type { ModelDescription } from '../onnx/describe.js';
import type { Tensor } from 'onnxruntime-node';
import type { Context, HandlerResult, RequestInput } from '../types.js';
import type { Batch, ModelOutputs } from './base-handler.js';
import { handlerSettings } from './settings.js';
import { VisionHandler } from './vision-handler.js';

export const DEFAULT_TOPK = 5;

/** The v2 output holding each image's labelled top-k as JSON text, unless the model has an output of that name. */
export const CLASSES_OUTPUT = 'classes';
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
 *
 * On the KServe v2 API the answer is tensors, exactly as `describe()` advertises them: every output
 * of the model unchanged (`output` FP32 `[N, 1000]`, what Triton's client reads with
 * `as_numpy('output')`), and `classes` BYTES `[N]`, each element one image's labelled top-k as the
 * JSON text above. A client names the ones it wants in the request's `outputs`.
 */
export class ImageClassifier extends VisionHandler {
  #labels: string[] | undefined;
  #topk = DEFAULT_TOPK;

  /** Classes answered when a request does not say: the model config's `handler.topk`, else 5. */
  get topk(): number {
    return this.#topk;
  }

  /** The v2 output of labelled top-k JSON: `classes`, or `classes_topk` when the model has an output called `classes`. */
  get classesOutputName(): string {
    return this.session.outputNames.includes(CLASSES_OUTPUT) ? `${CLASSES_OUTPUT}_topk` : CLASSES_OUTPUT;
  }

  override async initialize(context: Context): Promise<void> {
    this.#topk = handlerSettings(context).topk ?? DEFAULT_TOPK;
    this.#labels = loadLabels(context.systemProperties.modelDir);
    await super.initialize(context);
    if (this.#labels === undefined) context.logger.warn('no index_to_name.json or synset.txt in the archive: answering class indices');
  }

  /** The model's own outputs, and the labelled top-k per image. */
  override describe(): ModelDescription {
    const described = super.describe();
    return { ...described, outputs: [...described.outputs, { name: this.classesOutputName, datatype: 'BYTES', shape: [-1] }] };
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
    const parts = Object.fromEntries(Object.entries(outputs).map(([n, t]) => [n, splitBatch(t, batch.rows)]));
    return batch.requests.map((request, i) => {
      const part = parts[name]![i]!;
      const k = Math.min(requestedTopk(request) ?? this.#topk, classes);
      const data = part.data as Float32Array;
      const answers = Array.from({ length: part.dims[0] ?? 1 }, (_, row) =>
        labelled(topK(softmax(data.subarray(row * classes, (row + 1) * classes)), k), this.#labels));
      // A v2 request (it carries tensors) gets tensors; /predictions gets TorchServe's JSON.
      if (request.tensors === undefined) return answers.length === 1 ? answers[0] : answers;
      const model = Object.entries(parts).map(([n, pieces]) => namedTensor(n, pieces[i]!));
      const encoder = new TextEncoder();
      const top = { name: this.classesOutputName, datatype: 'BYTES' as const, shape: [answers.length], data: answers.map((a) => encoder.encode(JSON.stringify(a))) };
      return tensorResponse([...model, top]);
    });
  }
}
