import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HandlerFailed, ServeError } from '../errors.js';
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

/** fastify's and @fastify/multipart's own errors, by code: the status and `type` clients see. */
const FRAMEWORK_ERRORS: Record<string, { status: number; type: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, type: 'PayloadTooLarge' },
  FST_REQ_FILE_TOO_LARGE: { status: 413, type: 'PayloadTooLarge' },
  FST_PARTS_LIMIT: { status: 413, type: 'PayloadTooLarge' },
  FST_FILES_LIMIT: { status: 413, type: 'PayloadTooLarge' },
  FST_FIELDS_LIMIT: { status: 413, type: 'PayloadTooLarge' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, type: 'UnsupportedMediaType' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, type: 'BadRequest' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, type: 'BadRequest' },
  FST_INVALID_MULTIPART_CONTENT_TYPE: { status: 400, type: 'BadRequest' },
  FST_PROTO_VIOLATION: { status: 400, type: 'BadRequest' },
  FST_MP_PREMATURE_CLOSE: { status: 400, type: 'BadRequest' },
  FST_ERR_VALIDATION: { status: 400, type: 'BadRequest' },
};

/**
 * The one mapping from anything thrown while answering a request to the HTTP error clients get.
 * `ServeError`s carry their own code and status; a handler's `HandlerError` or an archive's
 * `ArchiveError` do too (same `code` + `status` contract); anything else is a 500 whose details stay in
 * the server log.
 */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof ServeError) {
    return {
      status: error.status,
      body: { code: error.status, type: error.code, message: error.message },
      ...(error.retryAfter === undefined ? {} : { retryAfter: error.retryAfter }),
    };
  }
  const e = error as Partial<FastifyError> & { status?: unknown };
  if (typeof e.code === 'string') {
    const known = FRAMEWORK_ERRORS[e.code];
    if (known !== undefined) return { status: known.status, body: { code: known.status, type: known.type, message: e.message ?? known.type } };
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 600 && typeof e.message === 'string') {
      return { status: e.status, body: { code: e.status, type: e.code, message: e.message } };
    }
  }
  if (e.validation !== undefined) return { status: 400, body: { code: 400, type: 'BadRequest', message: e.message ?? 'Invalid request' } };
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: e.statusCode, body: { code: e.statusCode, type: 'BadRequest', message: e.message ?? 'Bad request' } };
  }
  return { status: 500, body: { code: 500, type: 'InternalServerError', message: 'Internal server error; the server log has the details' } };
}

export function sendError(reply: FastifyReply, error: HttpError): FastifyReply {
  if (error.retryAfter !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfter))));
  return reply.code(error.status).type('application/json').send(error.body);
}

/** Installs the mapping above, and the JSON 404 for unknown routes, on one app. */
export function installErrorHandling(app: FastifyInstance, logger: ServerLogger): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const http = toHttpError(error);
    logError(logger, request, http, error);
    return sendError(reply, http);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, {
      status: 404,
      body: { code: 404, type: 'ResourceNotFound', message: `Requested resource is not found: ${request.method} ${request.url.split('?', 1)[0]}` },
    }),
  );
}

function logError(logger: ServerLogger, request: FastifyRequest, http: HttpError, error: unknown): void {
  const fields: Record<string, unknown> = { requestId: request.id, method: request.method, url: request.url, status: http.status, type: http.body.type };
  // A handler's failure is logged once, from the `handler.failed` event, which names its request ids.
  if (error instanceof HandlerFailed) return;
  if (http.status >= 500 && !(error instanceof ServeError)) {
    logger.error('unexpected error answering a request', { ...fields, error });
  } else if (http.status >= 500 && http.status !== 503) {
    logger.warn(http.body.message, fields);
  }
}
