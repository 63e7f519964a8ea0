import { Tensor } from 'onnxruntime-node';
import { InvalidInput } from '../errors.js';
import type { TensorMetadata } from '../onnx/describe.js';
import type { NamedTensor, TensorDatatype } from '../types.js';

const TO_ORT: Partial<Record<TensorDatatype, Tensor.Type>> = {
  FP32: 'float32', FP64: 'float64', INT8: 'int8', INT16: 'int16', INT32: 'int32', INT64: 'int64',
  UINT8: 'uint8', UINT16: 'uint16', UINT32: 'uint32', UINT64: 'uint64',
};

/**
 * The v2 input named `expected.name`, checked against the model input's datatype and shape (the first
 * dimension is the batch), as an ONNX Runtime tensor; `undefined` when the request carries no input of
 * that name. Inputs are matched by name only, as Triton matches them: a lone input under another name
 * is not taken for this one.
 */
export function tensorInput(tensors: readonly NamedTensor[] | undefined, expected: TensorMetadata): Tensor | undefined {
  const input = tensors?.find((t) => t.name === expected.name);
  if (input === undefined) return undefined;
  const wanted = `${expected.datatype} [${expected.shape.join(', ')}]`;
  const type = TO_ORT[input.datatype];
  if (input.datatype !== expected.datatype || type === undefined) {
    throw new InvalidInput(`input "${input.name}" must be ${wanted} (-1: any size); got ${input.datatype}`);
  }
  const fits = input.shape.length === expected.shape.length
    && input.shape.every((d, i) => Number.isInteger(d) && d >= 1 && (expected.shape[i] === -1 || expected.shape[i] === d));
  if (!fits) throw new InvalidInput(`input "${input.name}" must be ${wanted} (-1: any size); got shape [${input.shape.join(', ')}]`);
  const size = input.shape.reduce((a, b) => a * b, 1);
  if ((input.data as ArrayLike<unknown>).length !== size) {
    throw new InvalidInput(`input "${input.name}" has ${(input.data as ArrayLike<unknown>).length} values for shape [${input.shape.join(', ')}] (${size})`);
  }
  return new Tensor(type, input.data as Float32Array, input.shape);
}

/** Refuses inputs the model does not take, by name: never ignored in silence. */
export function refuseUnknownInputs(tensors: readonly NamedTensor[] | undefined, accepted: readonly string[]): void {
  const unknown = tensors?.find((t) => !accepted.includes(t.name));
  if (unknown !== undefined) {
    throw new InvalidInput(`this model has no input "${unknown.name}"; its inputs are ${accepted.map((n) => `"${n}"`).join(', ')}`);
  }
}
