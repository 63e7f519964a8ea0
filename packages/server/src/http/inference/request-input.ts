import type { FastifyRequest } from 'fastify';
import type { RequestInput } from '@nodeserve/handler-sdk';
import type { ParsedBody } from './body.js';
import { readMultipart } from './body.js';

/**
 * Turns an HTTP request to `/predictions` into what the handler receives for it. A JSON body stays
 * bytes here: the worker parses it, so a large document never blocks the event loop.
 */
export async function toRequestInput(request: FastifyRequest, maxRequestSize: number): Promise<RequestInput> {
  let body: Buffer;
  let form: Record<string, Uint8Array | string> = {};
  if (request.isMultipart()) {
    ({ body, form } = await readMultipart(request, maxRequestSize));
  } else {
    body = (request.body as ParsedBody | undefined)?.bytes ?? Buffer.alloc(0);
  }
  const contentType = request.headers['content-type'];
  return {
    requestId: request.id,
    body,
    data: body,
    form,
    headers: flattenHeaders(request.headers),
    query: lastValues(request.query),
    ...(contentType === undefined ? {} : { contentType }),
  };
}

/** Headers as the handler sees them: one string per name (repeated values joined). */
export function flattenHeaders(headers: FastifyRequest['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return out;
}

/** Query parameters as the handler sees them: the last value wins when a name repeats. */
export function lastValues(query: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (query === null || typeof query !== 'object') return out;
  for (const [name, value] of Object.entries(query as Record<string, unknown>)) {
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last !== undefined) out[name] = String(last);
  }
  return out;
}
