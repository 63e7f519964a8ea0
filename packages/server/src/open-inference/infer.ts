import type { NamedTensor, RequestInput } from '@nodeserve/handler-sdk';
import { BadRequest } from '../errors.js';
import type { InferenceOutcome, ModelVersionHandle } from '../models/types.js';
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
