import type { NamedTensor, RequestInput } from '@nodeserve/handler-sdk';
import { BadRequest } from '../errors.js';
import type { InferenceOutcome, InferenceRequest, ModelVersionHandle } from '../models/types.js';
import { checkResponseSize } from '../http/response-size.js';
import { checkInputs, checkOutputs, checkRequestedOutputs } from './model-contract.js';
import type { V2Parameters } from './schemas.js';

/** The output a JSON or bytes answer becomes on the v2 API (a handler that returns tensors names its own). */
export const DEFAULT_OUTPUT_NAME = 'output';

/** What the handler is told about an infer request besides its tensors: who sent it, and how. */
export interface InferRequestContext {
  requestId: string;
  /** HTTP headers, or gRPC metadata (text entries), lower-case names. */
  headers: Record<string, string>;
  query: Record<string, string>;
}

/**
 * The handler sees an infer request as it sees `/predictions`: when there is exactly one BYTES input of
 * exactly one element, that element is `body` (an image sent as BYTES goes through the same
 * preprocessing), and every input is in `tensors` for handlers that take raw tensors. A BYTES input
 * of several elements leaves `body` empty, so a handler that reads only `body` fails rather than
 * answer for the first element alone. The same for REST and gRPC.
 */
export function inferRequestInput(context: InferRequestContext, tensors: NamedTensor[], requestedOutputs: string[] | undefined): RequestInput {
  const bytesInputs = tensors.filter((t) => t.datatype === 'BYTES');
  const only = bytesInputs.length === 1 && bytesInputs[0]!.data.length === 1 ? bytesInputs[0]! : undefined;
  // The tensor's own element, not a copy: the worker channel sends it once for both places.
  const body = (only?.data[0] as Uint8Array | undefined) ?? new Uint8Array(0);
  return {
    ...context,
    body,
    data: body,
    form: {},
    tensors,
    ...(requestedOutputs === undefined ? {} : { requestedOutputs }),
  };
}

/** A JSON or bytes answer becomes one BYTES output named `output` holding it (JSON as its text). */
export function outcomeTensors(outcome: InferenceOutcome): NamedTensor[] {
  if (outcome.kind === 'tensors') return outcome.outputs;
  return [{ name: DEFAULT_OUTPUT_NAME, datatype: 'BYTES', shape: [1], data: [outcome.body] }];
}

/** The outputs the client asked for, in its order; all of them when it named none. */
export function selectOutputs(outputs: NamedTensor[], requested: string[] | undefined, handle: ModelVersionHandle): NamedTensor[] {
  if (requested === undefined) return outputs;
  return requested.map((name) => {
    const found = outputs.find((o) => o.name === name);
    if (found === undefined) {
      throw new BadRequest(`Model "${handle.name}" has no output "${name}"; it returns ${outputs.map((o) => `"${o.name}"`).join(', ')}`);
    }
    return found;
  });
}

/** The protocol allows only string, number and boolean parameter values. */
export function protocolParameters(parameters: Record<string, unknown> | undefined): V2Parameters | undefined {
  if (parameters === undefined) return undefined;
  const out: V2Parameters = {};
  for (const [k, v] of Object.entries(parameters)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** A decoded infer request, whichever front door it came through. */
export interface DecodedInfer {
  request: { id?: string | undefined };
  tensors: NamedTensor[];
  requestedOutputs: string[] | undefined;
}

export interface InferAnswer {
  /** The response's model, version, id and parameters. */
  head: { model_name: string; model_version: string; id?: string | undefined; parameters?: V2Parameters | undefined };
  /** The outputs to send, those asked for in their order. */
  outputs: NamedTensor[];
}

/** How a front door calls `runInfer`. */
export interface InferOptions {
  /** Which API the request came through, for metrics and the access log. */
  api: InferenceRequest['api'];
  /** `performance.now()` once the whole request was read: its queue time starts there. */
  receivedAt: number;
  /** `max_response_size`, in bytes: a bigger answer is refused with `ResponseTooLarge` (507). */
  maxResponseSize: number;
  /** Told the worker's answer as soon as it comes, for its queue and inference timings, also when the answer is then refused. */
  onOutcome?: (outcome: InferenceOutcome) => void;
}

/**
 * Runs a decoded infer request on a model version through its queue, batching and workers, and
 * shapes the answer as the protocol returns it; each front door then encodes it in its own form.
 * The model's metadata is held as a contract on both sides (`model-contract.ts`): unknown or mistyped
 * inputs and unknown requested outputs are refused before queueing (`BadRequest`), an answer that
 * breaks the handler's `describe()` fails the request (`InvalidHandlerOutput`).
 */
export async function runInfer(handle: ModelVersionHandle, decoded: DecodedInfer, context: InferRequestContext, options: InferOptions): Promise<InferAnswer> {
  checkInputs(handle, decoded.tensors);
  checkRequestedOutputs(handle, decoded.requestedOutputs);
  const { api, receivedAt, maxResponseSize } = options;
  const outcome = await handle.submit({ input: inferRequestInput(context, decoded.tensors, decoded.requestedOutputs), api, receivedAt });
  options.onOutcome?.(outcome);
  checkResponseSize(handle.name, outcome, maxResponseSize);
  const answered = outcomeTensors(outcome);
  checkOutputs(handle, answered);
  return {
    head: {
      model_name: handle.name,
      model_version: handle.version,
      id: decoded.request.id,
      parameters: outcome.kind === 'tensors' ? protocolParameters(outcome.parameters) : undefined,
    },
    outputs: selectOutputs(answered, decoded.requestedOutputs, handle),
  };
}
