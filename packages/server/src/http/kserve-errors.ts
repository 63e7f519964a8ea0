import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { InternalServerError, ResourceNotFound } from '../errors.js';
import type { ServerLogger } from '../logging/index.js';
import { toHttpError, type HttpError, type RequestLimits } from './errors.js';

/**
 * Sends an error in KServe's shape, `{"error": "<message>"}`, with the catalogue's status (and
 * `Retry-After` where retrying helps). Both KServe protocols use it: v2's required API names it the
 * error response object, and KServe's own model server answers v1 errors the same way. The content
 * type is exactly `application/json`, without a charset parameter: KServe's Python client reads the
 * message out of an error only when the header is that string.
 */
export function sendKServeError(reply: FastifyReply, error: HttpError, message = error.body.message): FastifyReply {
  if (error.retryAfter !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfter))));
  return reply.code(error.status).type('application/json').send(Buffer.from(JSON.stringify({ error: message })));
}

/**
 * Installs KServe's error shape on one encapsulated scope (`/v1` or `/v2`): anything thrown while
 * answering, and unknown routes under the scope's prefix. Only the unexpected is logged; the access
 * log already has every status.
 */
export function installKServeErrors(app: FastifyInstance, logger: ServerLogger, limits: RequestLimits, protocol: 'v1' | 'v2'): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const http = toHttpError(error, limits);
    if (http.body.type === InternalServerError.code) {
      logger.error(`unexpected error answering a ${protocol} request`, { requestId: request.id, url: request.url, error });
    }
    return sendKServeError(reply, http);
  });
  app.setNotFoundHandler((request, reply) => sendKServeError(reply, toHttpError(new ResourceNotFound(request.method, request.url.split('?', 1)[0] ?? ''), limits)));
}
