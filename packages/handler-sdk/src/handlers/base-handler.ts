import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { HandlerError, InvalidInput, ModelFailed } from '../errors.js';
import { createSession, type ExecutionProvider } from '../onnx/create-session.js';
import { describeSession, type ModelDescription, type TensorMetadata } from '../onnx/describe.js';
import { concatBatch, splitBatch } from '../tensors/batch.js';
import { tensorResponse } from '../tensors/tensor-response.js';
import type { Context, HandlerResult, RequestInput } from '../types.js';
import { resolveModelFile } from './model-file.js';
import { refuseUnknownInputs, tensorInput } from './tensor-input.js';

/** ONNX Runtime's outputs by name. */
export type ModelOutputs = InferenceSession.ReturnType;

/** The requests that reached inference, and how many batch rows each contributed. */
export interface Batch {
  requests: RequestInput[];
  rows: number[];
}

function asError(error: unknown, wrap: (message: string) => HandlerError): Error {
  if (error instanceof Error) return error;
  return wrap(String(error));
}

/**
 * The handler lifecycle, as in TorchServe: `initialize` loads the ONNX session once per worker,
 * `preprocess` turns one request into an input tensor, `inference` runs the stacked batch,
 * `postprocess` answers each request. Subclasses override only what they need.
 *
 * `handle` is batch-first and isolates failures: a request whose preprocessing throws gets its
 * error in its slot, the others still run together; a failed inference fails only the requests
 * that were in it.
 */
export class BaseHandler {
  /**
   * `handle` takes any batch, so the server may batch the requests already waiting, up to this many,
   * when no batch size is configured (`HandlerModule.maxBatchSize`). 8 is the largest batch
   * `npm run bench` sweeps: ONNX Runtime's best point there for MobileNet v2 int8 and ResNet-50
   * alike, and under `ab -c 100` the server answered 16–17 % more requests per second for both
   * than one at a time, mostly because a worker no longer idles while one answer and the next
   * request cross between processes (docs/server.md, "Batching"). A configured `batchSize` replaces it.
   */
  readonly maxBatchSize: number = 8;
  #context: Context | undefined;
  #session: InferenceSession | undefined;
  #provider: ExecutionProvider | undefined;
  #description: ModelDescription | undefined;

  get context(): Context {
    if (this.#context === undefined) throw new ModelFailed('the handler was used before initialize(context)');
    return this.#context;
  }

  get session(): InferenceSession {
    if (this.#session === undefined) throw new ModelFailed('the handler was used before initialize(context)');
    return this.#session;
  }

  /** The execution provider the session runs on. */
  get provider(): ExecutionProvider | undefined {
    return this.#provider;
  }

  /** The model's first input, which `preprocess` feeds. */
  get input(): TensorMetadata {
    // The model's own description: subclasses' describe() adds inputs (an image input) built from this one.
    if (this.#description === undefined) throw new ModelFailed('the handler was used before initialize(context)');
    const input = this.#description.inputs.find((i) => i.name === this.session.inputNames[0]);
    if (input === undefined) throw new ModelFailed(`the model's first input "${this.session.inputNames[0]}" is not a tensor`);
    return input;
  }

  async initialize(context: Context): Promise<void> {
    this.#context = context;
    const loaded = await createSession(this.modelFile(context), context);
    this.#session = loaded.session;
    this.#provider = loaded.provider;
    this.#description = describeSession(loaded.session);
  }

  /** The model file to load; override to pick another file of the archive. */
  modelFile(context: Context): string {
    return resolveModelFile(context);
  }

  /** The model's tensors in KServe v2 terms (the server's model-metadata endpoint). */
  describe(): ModelDescription {
    if (this.#description === undefined) throw new ModelFailed('the handler was used before initialize(context)');
    return this.#description;
  }

  /** One request → one input tensor whose first dimension is the batch. By default: the request's v2 tensor. */
  async preprocess(request: RequestInput): Promise<Tensor> {
    refuseUnknownInputs(request.tensors, this.describe().inputs.map((i) => i.name));
    const tensor = tensorInput(request.tensors, this.input);
    if (tensor === undefined) {
      const { name, datatype, shape } = this.input;
      throw new InvalidInput(`this model takes a tensor input "${name}" (${datatype} [${shape.join(', ')}]) through the v2 infer API`);
    }
    return tensor;
  }

  /** Runs the model on a stacked batch; models with a fixed batch size get one run per row group. */
  async inference(batch: Tensor, rows: readonly number[] = [batch.dims[0] ?? 1]): Promise<ModelOutputs> {
    const name = this.session.inputNames[0]!;
    const fixed = this.input.shape[0];
    if (fixed === undefined || fixed === -1 || fixed === batch.dims[0]) return this.session.run({ [name]: batch });
    const parts = await Promise.all(splitBatch(batch, rows).map((part) => this.session.run({ [name]: part })));
    return Object.fromEntries(this.session.outputNames.map((out) => [out, concatBatch(parts.map((p) => p[out]!))]));
  }

  /** Model outputs → one result per request. By default: each request's rows of every output, as v2 tensors. */
  async postprocess(outputs: ModelOutputs, batch: Batch): Promise<HandlerResult[]> {
    const split = Object.entries(outputs).map(([name, tensor]) => [name, splitBatch(tensor, batch.rows)] as const);
    return batch.requests.map((_, i) => tensorResponse(Object.fromEntries(split.map(([name, parts]) => [name, parts[i]!]))));
  }

  async handle(data: RequestInput[], _context?: Context): Promise<HandlerResult[]> {
    const { metrics } = this.context;
    const results: HandlerResult[] = new Array(data.length);
    const started = performance.now();
    const tensors = await Promise.all(data.map(async (request, i) => {
      try {
        return await this.preprocess(request);
      } catch (error) {
        results[i] = asError(error, (m) => new InvalidInput(m));
        return undefined;
      }
    }));
    const good = tensors.flatMap((tensor, index) => (tensor === undefined ? [] : [{ index, tensor }]));
    metrics.observe('handler_preprocess_ms', performance.now() - started);
    if (good.length === 0) return results;

    const batch: Batch = { requests: good.map((g) => data[g.index]!), rows: good.map((g) => g.tensor.dims[0] ?? 1) };
    let answers: HandlerResult[];
    try {
      const inferenceStarted = performance.now();
      const outputs = await this.inference(concatBatch(good.map((g) => g.tensor)), batch.rows);
      const postStarted = performance.now();
      metrics.observe('handler_inference_ms', postStarted - inferenceStarted);
      answers = await this.postprocess(outputs, batch);
      metrics.observe('handler_postprocess_ms', performance.now() - postStarted);
      if (answers.length !== good.length) throw new ModelFailed(`postprocess returned ${answers.length} results for ${good.length} requests`);
    } catch (error) {
      const failure = error instanceof HandlerError
        ? error
        : new ModelFailed(`inference failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      this.context.logger.error('batch failed', { code: failure.code, message: failure.message, requests: good.length });
      answers = good.map(() => failure);
    }
    good.forEach((g, i) => {
      results[g.index] = answers[i];
    });
    return results;
  }
}
