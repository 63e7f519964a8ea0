import type { Tensor } from 'onnxruntime-node';
import { ModelFailed } from '../errors.js';
import { toV2Datatype } from '../onnx/datatypes.js';
import type { NamedTensor, TensorResponse, TensorValues } from '../types.js';

const encoder = new TextEncoder();

/** An ONNX Runtime tensor as a v2 named tensor (strings become `BYTES` elements). */
export function namedTensor(name: string, tensor: Tensor): NamedTensor {
  const datatype = toV2Datatype(tensor.type);
  if (datatype === undefined) throw new ModelFailed(`output ${name} has type ${tensor.type}, which the v2 protocol cannot carry`);
  const data: TensorValues = tensor.type === 'string'
    ? (tensor.data as string[]).map((s) => encoder.encode(s))
    : tensor.type === 'bool'
      ? Array.from(tensor.data as Uint8Array, (b) => b !== 0)
      : (tensor.data as Exclude<TensorValues, boolean[] | Uint8Array[]>);
  return { name, datatype, shape: [...tensor.dims], data };
}

/**
 * Builds a handler's tensor answer from v2 named tensors or from ONNX Runtime outputs by name
 * (`session.run()`'s result); the server sends it as v2 outputs, or as JSON tensors on `/predictions`.
 */
export function tensorResponse(
  outputs: readonly NamedTensor[] | Readonly<Record<string, Tensor>>,
  parameters?: Record<string, unknown>,
): TensorResponse {
  const named = Array.isArray(outputs)
    ? [...(outputs as readonly NamedTensor[])]
    : Object.entries(outputs as Record<string, Tensor>).map(([name, tensor]) => namedTensor(name, tensor));
  return parameters === undefined ? { kind: 'tensors', outputs: named } : { kind: 'tensors', outputs: named, parameters };
}

/** Whether a handler result is a `TensorResponse`. */
export function isTensorResponse(value: unknown): value is TensorResponse {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'tensors' && Array.isArray((value as TensorResponse).outputs);
}
