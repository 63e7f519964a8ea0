import type { BytesResponse } from '../types.js';

// type/subtype with optional parameters, as RFC 9110 writes a media type; no line breaks, so it cannot split a header.
const MEDIA_TYPE = /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(?:\s*;\s*[A-Za-z0-9!#$&^_.+-]+=(?:[A-Za-z0-9!#$&^_.+-]+|"[^"\r\n]*"))*$/;

/**
 * A handler's answer as raw bytes with their content type, e.g. `bytesResponse(png, 'image/png')`.
 * A malformed content type is the handler's bug, so it throws a `TypeError` (a 500 if returned).
 */
export function bytesResponse(data: Uint8Array, contentType: string): BytesResponse {
  if (contentType.length > 256 || !MEDIA_TYPE.test(contentType)) {
    throw new TypeError(`"${contentType.slice(0, 64)}" is not a media type like image/png`);
  }
  return { kind: 'bytes', data, contentType };
}

/** Whether a handler result is a `BytesResponse`. */
export function isBytesResponse(value: unknown): value is BytesResponse {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<BytesResponse>;
  return candidate.kind === 'bytes' && candidate.data instanceof Uint8Array && typeof candidate.contentType === 'string';
}
