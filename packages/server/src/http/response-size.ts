import type { NamedTensor } from '@nodeserve/handler-sdk';
import { ResponseTooLarge } from '../errors.js';
import type { InferenceOutcome } from '../models/types.js';

/** Bytes of a tensor's data as the worker sent it (BOOL one byte per element, BYTES their lengths). */
function tensorBytes(tensor: NamedTensor): number {
  const { data } = tensor;
  if (ArrayBuffer.isView(data)) return data.byteLength;
  return (data as Array<boolean | Uint8Array>).reduce((n, item) => n + (typeof item === 'boolean' ? 1 : item.byteLength), 0);
}

/**
 * `max_response_size`: a handler's answer over it is refused with 507 `ResponseTooLarge` instead of
 * being sent. (TorchServe's frontend drops such a reply too, but by killing the worker's connection.)
 */
export function checkResponseSize(model: string, outcome: InferenceOutcome, limit: number): void {
  const bytes = outcome.kind === 'tensors' ? outcome.outputs.reduce((n, t) => n + tensorBytes(t), 0) : outcome.body.length;
  if (bytes > limit) throw new ResponseTooLarge(model, bytes, limit);
}
