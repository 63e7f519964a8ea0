import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { ServerDraining } from '../errors.js';
import type { AccessLog, ServerLogger } from '../logging/index.js';
import { type ConnectionLimits, createLimitedServer, LimitLog } from './connection-limits.js';
import { installErrorHandling } from './errors.js';

/** What the access log names for a request that reached a model (set by the inference routes). */
export interface ModelTarget {
  model: string;
  version?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    modelTarget: ModelTarget | undefined;
  }
}

export interface AppOptions {
  /** `max_request_size`: larger bodies are refused with 413 before they are read. */
  bodyLimit: number;
  logger: ServerLogger;
  accessLog: AccessLog;
  lifecycle: { draining: boolean; stopping: boolean };
  /** Called with the status of every answer, once it is written. */
  onAnswered?: (status: number) => void;
  /** TorchServe's `cors_allowed_origin`, `cors_allowed_methods`, `cors_allowed_headers`; no CORS without an origin. */
  cors?: { origin?: string | undefined; methods?: string | undefined; headers?: string | undefined };
  /** The connection limits of this listener (`connectionLimits(config)`). */
  limits: ConnectionLimits;
  /** Which API this app serves, as the server log names it: `inference`, `management`, `metrics`. */
  api: string;
}

function corsHeaders(cors: NonNullable<AppOptions['cors']>): Record<string, string> {
  const headers: Record<string, string> = { 'access-control-allow-origin': cors.origin! };
  if (cors.methods !== undefined) headers['access-control-allow-methods'] = cors.methods;
  if (cors.headers !== undefined) headers['access-control-allow-headers'] = cors.headers;
  return headers;
}

/** A client may choose its request id (to follow a request through its own logs), within reason. */
export const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * One fastify app with what every API shares: request ids (`x-request-id`), the access log, the
 * JSON error body, and refusing new requests while the server drains.
 */
export function createApp(options: AppOptions): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimit,
    routerOptions: { ignoreTrailingSlash: true },
    // Timeouts, keep-alive and connection counts are set on the server itself (connection-limits.ts),
    // which also answers what Node cannot parse: fastify's own client-error answer is not wanted.
    serverFactory: (handler) => createLimitedServer(options.limits, handler, new LimitLog(options.logger, options.api)),
    clientErrorHandler: () => undefined,
    // Draining answers our own 503 body; fastify's would not be in the `{"code","type","message"}` shape.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    genReqId: (req: IncomingMessage) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && CLIENT_REQUEST_ID.test(given) ? given : randomUUID();
    },
  });
  app.decorateRequest('modelTarget', undefined);
  installErrorHandling(app, options.logger, { maxRequestSize: options.bodyLimit });

  const cors = options.cors?.origin === undefined ? undefined : corsHeaders(options.cors);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (cors !== undefined) {
      reply.headers(cors);
      // A browser's preflight asks before the real request; it needs no route of its own.
      if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) return reply.code(204).send();
    }
    if (options.lifecycle.draining) {
      reply.header('connection', 'close');
      throw new ServerDraining();
    }
  });
  app.addHook('onSend', async (_request, reply) => {
    // Lets kept-alive clients go once their last answer is written, so the drain can finish; while
    // stopping, it sends them to open a new connection, which a load balancer routes elsewhere.
    if (options.lifecycle.draining || options.lifecycle.stopping) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (request, reply) => {
    options.onAnswered?.(reply.statusCode);
    const length = Number(reply.getHeader('content-length') ?? 0);
    options.accessLog.record({
      time: new Date(),
      remote: request.ip,
      method: request.method,
      url: request.url,
      status: reply.statusCode,
      bytes: Number.isFinite(length) ? length : 0,
      ms: reply.elapsedTime,
      ...(request.modelTarget === undefined ? {} : { model: request.modelTarget.model, version: request.modelTarget.version }),
      requestId: request.id,
    });
  });
  return app;
}
