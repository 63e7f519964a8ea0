import type { FastifyInstance, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { InvalidInput } from '@nodeserve/handler-sdk/errors';
import { PayloadTooLarge } from '../../errors.js';

/** A request body as read: its bytes (JSON included: the worker parses it). */
export interface ParsedBody {
  bytes: Buffer;
}

/** Bounds on a multipart form, on top of `max_request_size` for the whole of it. */
export const MULTIPART_LIMITS = {
  fields: 64,
  files: 16,
  parts: 80,
  fieldNameSize: 200,
  fieldSize: 1024 * 1024,
  headerPairs: 200,
} as const;

/**
 * Body parsing for the inference API: any content type arrives as raw bytes (images, audio, protobuf,
 * JSON, which the worker parses), `multipart/form-data` is read field by field in the route.
 * Every body is bounded by `max_request_size` (413 beyond it).
 */
export async function registerBodyParsers(app: FastifyInstance, maxRequestSize: number): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, bytes: Buffer, done) => done(null, { bytes }));
  await app.register(multipart, { limits: { ...MULTIPART_LIMITS, fileSize: maxRequestSize } });
}

export interface MultipartForm {
  form: Record<string, Uint8Array | string>;
  body: Buffer;
}

/**
 * Reads a multipart form: every field into `form` (files as bytes, text as strings); `body` is the
 * `data` field, else `body`, else the only file (TorchServe and MMS handlers read those names).
 */
export async function readMultipart(request: FastifyRequest, maxRequestSize: number): Promise<MultipartForm> {
  const form: Record<string, Buffer | string> = Object.create(null) as Record<string, Buffer | string>;
  const files: Buffer[] = [];
  let total = 0;
  for await (const part of request.parts()) {
    let value: Buffer | string;
    if (part.type === 'file') {
      value = await part.toBuffer();
      files.push(value);
      total += value.length;
    } else {
      value = typeof part.value === 'string' ? part.value : JSON.stringify(part.value);
      total += Buffer.byteLength(value);
    }
    if (total > maxRequestSize) throw new PayloadTooLarge(maxRequestSize);
    form[part.fieldname] = value;
  }
  const chosen = form['data'] ?? form['body'] ?? (files.length === 1 ? files[0] : undefined);
  if (chosen === undefined) {
    throw new InvalidInput('Multipart request has no "data" or "body" field and not exactly one file');
  }
  return { form: { ...form }, body: typeof chosen === 'string' ? Buffer.from(chosen) : chosen };
}
