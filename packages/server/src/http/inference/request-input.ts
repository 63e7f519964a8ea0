import type { FastifyRequest } from 'fastify';
import type { RequestInput } from '@nodeserve/handler-sdk';
import type { ParsedBody } from './body.js';
import { readMultipart } from './body.js';

/** Turns an HTTP request to `/predictions` into what the handler receives for it. */
export async function toRequestInput(request: FastifyRequest, maxRequestSize: number): Promise<RequestInput> {
  let body: Buffer;
  let json: unknown;
  let form: Record<string, Uint8Array | string> = {};
  if (request.isMultipart()) {
    ({ body, form } = await readMultipart(request, maxRequestSize));
  } else {
    const parsed = request.body as ParsedBody | undefined;
    body = parsed?.bytes ?? Buffer.alloc(0);
    json = parsed?.json;
  }
  const contentType = request.headers['content-type'];
  return {
    requestId: request.id,
    body,
    data: body,
    form,
    ...(json === undefined ? {} : { json }),
    headers: flattenHeaders(request.headers),
    query: lastValues(request.query),
    ...(contentType === undefined ? {} : { contentType }),
  };
}

function flattenHeaders(headers: FastifyRequest['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return out;
}

function lastValues(query: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (query === null || typeof query !== 'object') return out;
  for (const [name, value] of Object.entries(query as Record<string, unknown>)) {
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last !== undefined) out[name] = String(last);
  }
  return out;
}
