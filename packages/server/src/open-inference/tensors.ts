import type { NamedTensor, TensorValues } from '@nodeserve/handler-sdk';
import { BadRequest } from '../errors.js';
import { fromHalfBits, toHalfBits } from './float16.js';
import { V2_LIMITS, type V2Datatype, type V2InferInput, type V2InferOutput, type V2Parameters } from './schemas.js';

export type NumericArray =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;
type NumericCtor = { new (length: number): NumericArray; readonly BYTES_PER_ELEMENT: number };

/** Fixed-size datatypes and the typed array that holds them (FP16 as its raw bits). */
const NUMERIC: Partial<Record<V2Datatype, NumericCtor>> = {
  UINT8: Uint8Array, UINT16: Uint16Array, UINT32: Uint32Array,
  INT8: Int8Array, INT16: Int16Array, INT32: Int32Array,
  FP16: Uint16Array, FP32: Float32Array, FP64: Float64Array,
};

const INTEGER_RANGE: Partial<Record<V2Datatype, [number, number]>> = {
  UINT8: [0, 0xff], UINT16: [0, 0xffff], UINT32: [0, 0xffffffff],
  INT8: [-0x80, 0x7f], INT16: [-0x8000, 0x7fff], INT32: [-0x80000000, 0x7fffffff],
};

export function elementCount(name: string, shape: number[], limit: number): number {
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (n > limit) throw new BadRequest(`Input "${name}" has shape [${shape.join(',')}], more elements than the request can hold`);
  }
  return n;
}

/** Bytes a fixed-size tensor takes in the binary extension, or `undefined` for BYTES. */
export function binaryByteLength(datatype: V2Datatype, count: number): number | undefined {
  if (datatype === 'BYTES') return undefined;
  if (datatype === 'BOOL') return count;
  if (datatype === 'INT64' || datatype === 'UINT64') return count * 8;
  return count * (NUMERIC[datatype]?.BYTES_PER_ELEMENT ?? 1);
}

function flatten(name: string, data: unknown[]): unknown[] {
  const out: unknown[] = [];
  const walk = (items: unknown[], depth: number): void => {
    if (depth > V2_LIMITS.maxNestingDepth) throw new BadRequest(`Input "${name}": data is nested too deeply`);
    for (const item of items) {
      if (Array.isArray(item)) walk(item, depth + 1);
      else out.push(item);
    }
  };
  walk(data, 0);
  return out;
}

/**
 * A v2 JSON input as a typed tensor. Elements must fit the declared datatype exactly (an `INT8`
 * of 300 or a `UINT32` of 1.5 is a 400, never silently wrapped). BYTES elements are UTF-8
 * strings, or base64 when the input's `parameters.content_type` is `"base64"`, the way a client
 * sends an image inside JSON.
 */
export function decodeJsonInput(input: V2InferInput, maxElements: number): NamedTensor {
  const count = elementCount(input.name, input.shape, maxElements);
  const flat = flatten(input.name, input.data ?? []);
  if (flat.length !== count) {
    throw new BadRequest(`Input "${input.name}" has ${flat.length} elements in data, but its shape [${input.shape.join(',')}] needs ${count}`);
  }
  const bad = (i: number): never => {
    throw new BadRequest(`Input "${input.name}": element ${i} (${JSON.stringify(flat[i])}) is not a valid ${input.datatype} value`);
  };
  let data: TensorValues;
  const { datatype } = input;
  if (datatype === 'BOOL') {
    data = flat.map((v, i) => (typeof v === 'boolean' ? v : bad(i)));
  } else if (datatype === 'BYTES') {
    const base64 = input.parameters?.['content_type'] === 'base64';
    data = flat.map((v, i) => {
      if (typeof v !== 'string') return bad(i);
      return base64 ? Buffer.from(v, 'base64') : Buffer.from(v, 'utf8');
    });
  } else if (datatype === 'INT64' || datatype === 'UINT64') {
    const arr = datatype === 'INT64' ? new BigInt64Array(count) : new BigUint64Array(count);
    flat.forEach((v, i) => {
      if (typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v)) {
        // A JSON number this large has already been rounded by the parser: refuse it rather than serve a different value.
        throw new BadRequest(
          `Input "${input.name}": element ${i} (${JSON.stringify(v)}) is beyond JSON's exact-integer range (±2^53-1); ` +
            `send ${datatype} values this large in the binary data extension (parameters.binary_data_size)`,
        );
      }
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || (datatype === 'UINT64' && v < 0)) bad(i);
      arr[i] = BigInt(v as number);
    });
    data = arr;
  } else {
    data = numericElements(datatype, flat, bad);
  }
  return withParameters({ name: input.name, datatype, shape: input.shape, data }, input.parameters);
}

/**
 * Elements of a fixed-size datatype (not BOOL, BYTES or the 64-bit integers) as its typed array, each
 * checked to fit exactly: an `INT8` of 300 or a `UINT32` of 1.5 calls `bad(i)`, never wraps. FP16
 * elements are numbers, stored as their half-precision bits.
 */
export function numericElements(datatype: V2Datatype, values: ArrayLike<unknown>, bad: (index: number) => never): NumericArray {
  const Ctor = NUMERIC[datatype];
  if (Ctor === undefined) throw new Error(`${datatype} is not a fixed-size numeric datatype`);
  const arr = new Ctor(values.length);
  const range = INTEGER_RANGE[datatype];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number') bad(i);
    if (range !== undefined && (!Number.isInteger(v) || v < range[0] || v > range[1])) bad(i);
    arr[i] = datatype === 'FP16' ? toHalfBits(v) : v;
  }
  return arr;
}

/**
 * A v2 input sent as bytes: little-endian, row-major, no padding; BYTES elements each a 4-byte
 * little-endian length, then that many bytes. The REST binary extension and gRPC's
 * `raw_input_contents` lay tensors out alike; `source` names where the bytes came from in messages.
 */
export function decodeBinaryInput(input: V2InferInput, bytes: Buffer, maxElements: number, source = 'binary_data_size'): NamedTensor {
  const count = elementCount(input.name, input.shape, maxElements);
  const { datatype, name } = input;
  let data: TensorValues;
  if (datatype === 'BYTES') {
    const items: Uint8Array[] = [];
    let at = 0;
    while (at < bytes.length) {
      if (at + 4 > bytes.length) throw new BadRequest(`Input "${name}": truncated BYTES element length`);
      const len = bytes.readUInt32LE(at);
      at += 4;
      if (at + len > bytes.length) throw new BadRequest(`Input "${name}": BYTES element runs past the end of its ${source}`);
      items.push(bytes.subarray(at, at + len));
      at += len;
      if (items.length > count) break;
    }
    if (items.length !== count) {
      throw new BadRequest(`Input "${name}" holds ${items.length} BYTES elements, but its shape [${input.shape.join(',')}] needs ${count}`);
    }
    data = items;
  } else {
    const expected = binaryByteLength(datatype, count) as number;
    if (bytes.length !== expected) {
      throw new BadRequest(`Input "${name}" has ${source} of ${bytes.length} bytes, but ${count} ${datatype} elements take ${expected} bytes`);
    }
    // Copy so the typed array is aligned and owns its memory, whatever offset the body had.
    const copy = new Uint8Array(bytes);
    if (datatype === 'BOOL') data = Array.from(copy, (b) => b !== 0);
    else if (datatype === 'INT64') data = new BigInt64Array(copy.buffer, 0, count);
    else if (datatype === 'UINT64') data = new BigUint64Array(copy.buffer, 0, count);
    else {
      const Ctor = NUMERIC[datatype] as unknown as { new (b: ArrayBuffer, o: number, l: number): NumericArray };
      data = new Ctor(copy.buffer, 0, count);
    }
  }
  return withParameters({ name, datatype, shape: input.shape, data }, input.parameters);
}

/** An input tensor with its request parameters, less `binary_data_size` (which only says where its bytes were). */
export function withParameters(tensor: NamedTensor, parameters: V2Parameters | undefined): NamedTensor {
  if (parameters === undefined) return tensor;
  const rest = Object.fromEntries(Object.entries(parameters).filter(([k]) => k !== 'binary_data_size'));
  return Object.keys(rest).length > 0 ? { ...tensor, parameters: rest } : tensor;
}

/** The element count of an output tensor; throws when its data does not fill its shape exactly. */
export function checkShape(tensor: NamedTensor): number {
  const count = tensor.shape.reduce((a, b) => a * b, 1);
  if (count !== tensor.data.length) {
    throw new Error(`Output "${tensor.name}" has ${tensor.data.length} elements but shape [${tensor.shape.join(',')}]`);
  }
  return count;
}

/**
 * An output as v2 JSON. BYTES elements become UTF-8 strings when every element is valid UTF-8,
 * else base64 with `parameters.content_type = "base64"` (the same convention as inputs).
 * 64-bit integers become JSON numbers, exact up to 2^53.
 */
export function encodeJsonOutput(tensor: NamedTensor): V2InferOutput {
  checkShape(tensor);
  const out: V2InferOutput = { name: tensor.name, datatype: tensor.datatype, shape: tensor.shape };
  const parameters: V2Parameters = { ...(tensor.parameters as V2Parameters | undefined) };
  const { data } = tensor;
  if (tensor.datatype === 'BYTES') {
    const items = data as Uint8Array[];
    const decoder = new TextDecoder('utf-8', { fatal: true });
    try {
      out.data = items.map((b) => decoder.decode(b));
    } catch {
      out.data = items.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64'));
      parameters['content_type'] = 'base64';
    }
  } else if (tensor.datatype === 'BOOL') {
    out.data = Array.from(data as ArrayLike<boolean | number>, (v) => Boolean(v));
  } else if (tensor.datatype === 'FP16') {
    out.data = Array.from(data as Uint16Array, fromHalfBits);
  } else {
    out.data = Array.from(data as ArrayLike<number | bigint>, (v) => Number(v));
  }
  if (Object.keys(parameters).length > 0) out.parameters = parameters;
  return out;
}

/** An output's bytes for the binary extension. */
export function encodeBinaryOutput(tensor: NamedTensor): Buffer {
  const count = checkShape(tensor);
  const { data } = tensor;
  if (tensor.datatype === 'BYTES') {
    const parts: Buffer[] = [];
    for (const item of data as Uint8Array[]) {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(item.byteLength);
      parts.push(len, Buffer.from(item.buffer, item.byteOffset, item.byteLength));
    }
    return Buffer.concat(parts);
  }
  if (tensor.datatype === 'BOOL') return Buffer.from(Array.from(data as ArrayLike<boolean | number>, (v) => (v ? 1 : 0)));
  if (ArrayBuffer.isView(data)) {
    // Typed arrays are little-endian on every platform Node.js supports, as the extension requires.
    return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }
  throw new Error(`Output "${tensor.name}" (${tensor.datatype}, ${count} elements) does not hold a typed array`);
}
