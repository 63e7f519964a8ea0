import type { NamedTensor, TensorValues } from '@nodeserve/handler-sdk';
import { BadRequest } from '../errors.js';
import { checkShape, elementCount, numericElements, withParameters, type V2Datatype, type V2InferInput } from '../open-inference/index.js';
import type { InferTensorContents } from './messages.js';

type ContentsField = keyof InferTensorContents;

/**
 * The `InferTensorContents` field each datatype's elements go in, as the proto's comments assign them.
 * FP16 has none: the proto says it must travel in `raw_input_contents` / `raw_output_contents`.
 */
export const CONTENTS_FIELD: Readonly<Record<V2Datatype, ContentsField | undefined>> = {
  BOOL: 'bool_contents',
  UINT8: 'uint_contents', UINT16: 'uint_contents', UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  INT8: 'int_contents', INT16: 'int_contents', INT32: 'int_contents',
  INT64: 'int64_contents',
  FP16: undefined,
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
};

const ALL_FIELDS: ContentsField[] = [
  'bool_contents', 'int_contents', 'int64_contents', 'uint_contents', 'uint64_contents', 'fp32_contents', 'fp64_contents', 'bytes_contents',
];

/**
 * An input sent in typed `contents`: its datatype's field, holding exactly the elements its shape
 * needs, each within the datatype (an INT8 of 300 in `int_contents` is refused, never wrapped).
 * 64-bit integers keep their full range here, unlike JSON.
 */
export function decodeContents(input: V2InferInput, contents: InferTensorContents | undefined, maxElements: number): NamedTensor {
  const { name, datatype, shape } = input;
  const field = CONTENTS_FIELD[datatype];
  if (field === undefined) throw new BadRequest(`Input "${name}" is ${datatype}, which has no contents field: send it in raw_input_contents`);
  const misplaced = ALL_FIELDS.find((other) => other !== field && (contents?.[other]?.length ?? 0) > 0);
  if (misplaced !== undefined) throw new BadRequest(`Input "${name}" is ${datatype}, whose elements go in contents.${field}, but it has contents.${misplaced}`);
  const count = elementCount(name, shape, maxElements);
  const values: ArrayLike<unknown> = contents?.[field] ?? [];
  if (values.length !== count) {
    throw new BadRequest(`Input "${name}" has ${values.length} elements in contents.${field}, but its shape [${shape.join(',')}] needs ${count}`);
  }
  const bad = (i: number): never => {
    throw new BadRequest(`Input "${name}": element ${i} of contents.${field} (${String(values[i])}) is not a valid ${datatype} value`);
  };
  let data: TensorValues;
  if (datatype === 'BOOL') data = Array.from(values as boolean[]);
  else if (datatype === 'BYTES') data = Array.from(values as Uint8Array[]);
  else if (datatype === 'INT64') data = BigInt64Array.from(values as Array<string | number>, (v) => BigInt(v));
  else if (datatype === 'UINT64') data = BigUint64Array.from(values as Array<string | number>, (v) => BigInt(v));
  else data = numericElements(datatype, values, bad);
  return withParameters({ name, datatype, shape, data }, input.parameters);
}

/** Whether a datatype can travel in typed contents (FP16 cannot). */
export function hasContentsField(datatype: V2Datatype): boolean {
  return CONTENTS_FIELD[datatype] !== undefined;
}

/** An output's elements in its datatype's contents field; 64-bit integers as exact decimal strings. */
export function encodeContents(tensor: NamedTensor): InferTensorContents {
  checkShape(tensor);
  const field = CONTENTS_FIELD[tensor.datatype];
  if (field === undefined) throw new Error(`Output "${tensor.name}" is ${tensor.datatype}, which has no contents field`);
  const { data } = tensor;
  if (tensor.datatype === 'BYTES') return { bytes_contents: data as Uint8Array[] };
  if (tensor.datatype === 'BOOL') return { bool_contents: Array.from(data as ArrayLike<boolean | number>, Boolean) };
  if (tensor.datatype === 'INT64' || tensor.datatype === 'UINT64') {
    return { [field]: Array.from(data as BigInt64Array | BigUint64Array, (v) => v.toString()) };
  }
  return { [field]: Array.from(data as ArrayLike<number>) };
}

/** Whether any typed contents field holds elements. */
export function hasContents(contents: InferTensorContents | undefined): boolean {
  return ALL_FIELDS.some((field) => (contents?.[field]?.length ?? 0) > 0);
}
