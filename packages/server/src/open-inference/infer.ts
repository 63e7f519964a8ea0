import type { NamedTensor, RequestInput } from '@nodeserve/handler-sdk';
import { BadRequest } from '../errors.js';
import type { InferenceOutcome, InferenceRequest, ModelVersionHandle } from '../models/types.js';
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
 * The handler sees an infer request as it sees `/predictions`: when there is exactly one BYTES input, its
 * first element is `body` (an image sent as BYTES goes through the same preprocessing), and every
 * input is in `tensors` for handlers that take raw tensors. The same for REST and gRPC.
 */
export function inferRequestInput(context: InferRequestContext, tensors: NamedTensor[], requestedOutputs: string[] | undefined): RequestInput {
  const bytesInputs = tensors.filter((t) => t.datatype === 'BYTES');
  // The tensor's own element, not a copy: the worker channel sends it once for both places.
  const body = (bytesInputs.length === 1 ? (bytesInputs[0]?.data[0] as Uint8Array | undefined) : undefined) ?? new Uint8Array(0);
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
  /** The worker's answer, for its queue and inference timings. */
  outcome: InferenceOutcome;
  /** The response's model, version, id and parameters. */
  head: { model_name: string; model_version: string; id?: string | undefined; parameters?: V2Parameters | undefined };
  /** The outputs to send, those asked for in their order. */
  outputs: NamedTensor[];
}

/**
 * Runs a decoded infer request on a model version through its queue, batching and workers, and
 * shapes the answer as the protocol returns it; each front door then encodes it in its own form.
 */
export async function runInfer(
  handle: ModelVersionHandle,
  decoded: DecodedInfer,
  context: InferRequestContext,
  api: InferenceRequest['api'],
  receivedAt: number,
): Promise<InferAnswer> {
  const outcome = await handle.submit({ input: inferRequestInput(context, decoded.tensors, decoded.requestedOutputs), api, receivedAt });
  return {
    outcome,
    head: {
      model_name: handle.name,
      model_version: handle.version,
      id: decoded.request.id,
      parameters: outcome.kind === 'tensors' ? protocolParameters(outcome.parameters) : undefined,
    },
    outputs: selectOutputs(outcomeTensors(outcome), decoded.requestedOutputs, handle),
  };
}
