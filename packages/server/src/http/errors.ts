import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { NodeserveError } from '@nodeserve/errors';
import { HandlerError } from '@nodeserve/handler-sdk/errors';
import { BadRequest, InternalServerError, MultipartLimitExceeded, PayloadTooLarge, ResourceNotFound, UnsupportedMediaType } from '../errors.js';
import { MULTIPART_LIMITS } from './inference/multipart-limits.js';
import type { ServerLogger } from '../logging/index.js';

/** TorchServe's error body: `code` is the HTTP status, `type` our stable error code, `message` for people. */
export interface ErrorBody {
  code: number;
  type: string;
  message: string;
}

export interface HttpError {
  status: number;
  body: ErrorBody;
  retryAfter?: number;
}

/** The limits a 413 names: each framework refusal becomes the catalogue error that says which limit was hit. */
export interface RequestLimits {
  /** `max_request_size`, in bytes. */
  maxRequestSize: number;
}

/** fastify's and @fastify/multipart's own errors, by their code: the catalogue error clients get instead. */
const FRAMEWORK_ERRORS: Record<string, (limits: RequestLimits) => NodeserveError | typeof UnsupportedMediaType | typeof BadRequest> = {
  // Every 413 names its limit, whichever way the body came (declared length, chunked, multipart, `/v2`).
  FST_ERR_CTP_BODY_TOO_LARGE: (limits) => new PayloadTooLarge(limits.maxRequestSize),
  FST_REQ_FILE_TOO_LARGE: (limits) => new PayloadTooLarge(limits.maxRequestSize, 'A multipart file'),
  FST_PARTS_LIMIT: () => new MultipartLimitExceeded('parts', MULTIPART_LIMITS.parts),
  FST_FILES_LIMIT: () => new MultipartLimitExceeded('files', MULTIPART_LIMITS.files),
  FST_FIELDS_LIMIT: () => new MultipartLimitExceeded('fields', MULTIPART_LIMITS.fields),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => UnsupportedMediaType,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => BadRequest,
  FST_ERR_CTP_EMPTY_JSON_BODY: () => BadRequest,
  FST_INVALID_MULTIPART_CONTENT_TYPE: () => BadRequest,
  FST_PROTO_VIOLATION: () => BadRequest,
  FST_MP_PREMATURE_CLOSE: () => BadRequest,
  FST_ERR_VALIDATION: () => BadRequest,
};

function body(status: number, code: string, message: string): ErrorBody {
  return { code: status, type: code, message };
}

/**
 * The one mapping from anything thrown while answering a request to the HTTP error clients get.
 * Every `NodeserveError` (the server's catalogue, a handler's error passed through, an archive
 * reader's refusal) carries its own code and status; fastify's own errors become the catalogue entry
 * for what they mean; anything else is a 500 `InternalServerError` whose details stay in the server log.
 */
export function toHttpError(error: unknown, limits: RequestLimits): HttpError {
  if (error instanceof NodeserveError) return fromCatalogue(error);
  const e = error as Partial<FastifyError>;
  const known = typeof e.code === 'string' ? FRAMEWORK_ERRORS[e.code]?.(limits) : undefined;
  if (known instanceof NodeserveError) return fromCatalogue(known);
  if (known !== undefined) return { status: known.status, body: body(known.status, known.code, e.message ?? known.code) };
  // Any other client error fastify raises (a bad URL, a validation failure) is a malformed request.
  if (e.validation !== undefined || (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500)) {
    return { status: BadRequest.status, body: body(BadRequest.status, BadRequest.code, e.message ?? 'Bad request') };
  }
  const internal = new InternalServerError();
  return { status: internal.status, body: body(internal.status, internal.code, internal.message) };
}

/** A catalogue error as clients get it: its status, `{code, type, message}`, and `Retry-After` where it has one. */
export function fromCatalogue(error: NodeserveError): HttpError {
  return {
    status: error.status,
    body: body(error.status, error.code, error.message),
    ...(error.retryAfter === undefined ? {} : { retryAfter: error.retryAfter }),
  };
}

export function sendError(reply: FastifyReply, error: HttpError): FastifyReply {
  if (error.retryAfter !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfter))));
  return reply.code(error.status).type('application/json').send(error.body);
}

/** Installs the mapping above, and the JSON 404 for unknown routes, on one app. */
export function installErrorHandling(app: FastifyInstance, logger: ServerLogger, limits: RequestLimits): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const http = toHttpError(error, limits);
    logError(logger, { requestId: request.id, method: request.method, url: request.url }, http, error);
    return sendError(reply, http);
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, toHttpError(new ResourceNotFound(request.method, request.url.split('?', 1)[0] ?? ''), limits)));
}

/**
 * Logs what the server log needs of an error answer (`about` names the request): the unexpected with
 * its stack, other server-side failures as warnings; client errors and 503s only reach the access log.
 */
export function logError(logger: ServerLogger, about: Record<string, unknown>, http: HttpError, error: unknown): void {
  const fields: Record<string, unknown> = { ...about, status: http.status, type: http.body.type };
  // A handler's failure is logged once, from the `handler.failed` event, which names its request ids.
  if (error instanceof HandlerError) return;
  if (http.status >= 500 && !(error instanceof NodeserveError)) {
    logger.error('unexpected error answering a request', { ...fields, error });
  } else if (http.status >= 500 && http.status !== 503) {
    logger.warn(http.body.message, fields);
  }
}
