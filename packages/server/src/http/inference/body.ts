import type { FastifyInstance, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { BadRequest, PayloadTooLarge } from '../../errors.js';
import { MULTIPART_LIMITS } from './multipart-limits.js';

/** A request body as read: its bytes (JSON included: the worker parses it). */
export interface ParsedBody {
  bytes: Buffer;
}

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
 * Reads a multipart form: every field into `form` (files as bytes, text as strings), for the handler to
 * use as it sees fit. `body` is the `data` field, else `body`, else the form's only field (file or
 * text), as TorchServe and MMS handlers read them; else empty: a form of several other fields
 * (`-F image=@a.jpg -F mask=@b.png`, `-F prompt=hi -F n=3`) reaches the handler whole, in `form`.
 * A field name given twice is refused (a handler sees one value per name, and keeping only the last
 * would drop data without a word); so is a text field cut at the text field limit.
 */
export async function readMultipart(request: FastifyRequest, maxRequestSize: number): Promise<MultipartForm> {
  const form: Record<string, Buffer | string> = Object.create(null) as Record<string, Buffer | string>;
  let total = 0;
  for await (const part of request.parts()) {
    if (part.fieldname in form) throw new BadRequest(`Multipart field "${part.fieldname}" appears more than once; give each field its own name`);
    let value: Buffer | string;
    if (part.type === 'file') {
      value = await part.toBuffer();
      total += value.length;
    } else {
      if (part.fieldnameTruncated) throw new BadRequest(`A multipart field name is longer than ${MULTIPART_LIMITS.fieldNameSize} bytes`);
      if (part.valueTruncated) throw new PayloadTooLarge(MULTIPART_LIMITS.fieldSize, `Multipart text field "${part.fieldname}"`, 'the text field limit');
      value = typeof part.value === 'string' ? part.value : JSON.stringify(part.value);
      total += Buffer.byteLength(value);
    }
    if (total > maxRequestSize) throw new PayloadTooLarge(maxRequestSize, 'Multipart form');
    form[part.fieldname] = value;
  }
  const names = Object.keys(form);
  const chosen = form['data'] ?? form['body'] ?? (names.length === 1 ? form[names[0]!] : undefined);
  const body = chosen === undefined ? Buffer.alloc(0) : typeof chosen === 'string' ? Buffer.from(chosen) : chosen;
  return { form: { ...form }, body };
}
