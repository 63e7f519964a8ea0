import { Tensor } from 'onnxruntime-node';
import { ModelFailed } from '../errors.js';

type NumericData = Exclude<Tensor.DataType, string[]>;
type NumericArrayConstructor = new (length: number) => NumericData;

/**
 * Concatenates tensors along the first (batch) dimension; the other dimensions must agree. Tensors
 * whose data are consecutive views of one array become one view of it, without a copy.
 */
export function concatBatch(tensors: readonly Tensor[]): Tensor {
  const first = tensors[0];
  if (first === undefined) throw new ModelFailed('cannot stack an empty batch');
  if (tensors.length === 1) return first;
  const inner = first.dims.slice(1).join('x');
  let rows = 0;
  for (const t of tensors) {
    if (t.type !== first.type || t.dims.slice(1).join('x') !== inner) {
      throw new ModelFailed(`cannot stack tensors of shape [${first.dims.join(', ')}] (${first.type}) and [${t.dims.join(', ')}] (${t.type})`);
    }
    if (t.type === 'string') throw new ModelFailed('string tensors cannot be stacked into a batch');
    rows += t.dims[0] ?? 1;
  }
  const total = tensors.reduce((n, t) => n + t.size, 0);
  // Consecutive views of one array (a handler that preprocessed its batch into one, as
  // VisionHandler does) are already the batch: a view over them saves copying every input.
  const views = tensors.map((t) => t.data as Float32Array);
  const contiguous = views.every((v, i) => i === 0 || (v.buffer === views[0]!.buffer && v.constructor === views[0]!.constructor
    && v.byteOffset === views[i - 1]!.byteOffset + views[i - 1]!.byteLength));
  if (contiguous) {
    const Typed = first.data.constructor as new (buffer: ArrayBufferLike, byteOffset: number, length: number) => NumericData;
    return new Tensor(first.type, new Typed(views[0]!.buffer, views[0]!.byteOffset, total) as Float32Array, [rows, ...first.dims.slice(1)]);
  }
  const data = new (first.data.constructor as NumericArrayConstructor)(total);
  let offset = 0;
  for (const t of tensors) {
    (data as Float32Array).set(t.data as Float32Array, offset);
    offset += t.size;
  }
  return new Tensor(first.type, data, [rows, ...first.dims.slice(1)]);
}

/** Splits a batched tensor into consecutive pieces of `rows[i]` rows each (views, no copy). */
export function splitBatch(tensor: Tensor, rows: readonly number[]): Tensor[] {
  const total = tensor.dims[0] ?? 0;
  const wanted = rows.reduce((a, b) => a + b, 0);
  if (total !== wanted) throw new ModelFailed(`the model returned ${total} rows for a batch of ${wanted}`);
  if (tensor.type === 'string') throw new ModelFailed('string outputs cannot be split by request');
  const perRow = total === 0 ? 0 : tensor.size / total;
  const data = tensor.data as Float32Array;
  let start = 0;
  return rows.map((n) => {
    const piece = new Tensor(tensor.type, data.subarray(start * perRow, (start + n) * perRow) as NumericData as Float32Array, [n, ...tensor.dims.slice(1)]);
    start += n;
    return piece;
  });
}
