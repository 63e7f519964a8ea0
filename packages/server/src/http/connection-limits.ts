import http, { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { NodeserveError } from '@nodeserve/errors';
import type { ServerConfig } from '../config/index.js';
import {
  BadRequest,
  RequestHeadersTooLarge,
  RequestTimeout,
  TooManyConnections,
  TooManyPipelinedRequests,
  TooManyRequestBytes,
} from '../errors.js';
import type { ServerLogger } from '../logging/index.js';
import { fromCatalogue } from './errors.js';

/**
 * What one client may hold of a listener, from `config.properties` (docs/server.md "Limits"). Each
 * of the three listeners applies them to its own connections.
 */
export interface ConnectionLimits {
  maxConnections: number;
  headerTimeoutS: number;
  bodyTimeoutS: number;
  keepAliveTimeoutS: number;
  maxHeaderSize: number;
  maxPipelinedRequests: number;
  maxRequestBytesInFlight: number;
  /** `max_request_size`: a declared body larger than it is refused by the routes, never read. */
  maxRequestSize: number;
}

export function connectionLimits(config: ServerConfig): ConnectionLimits {
  return {
    maxConnections: config.max_connections,
    headerTimeoutS: config.request_header_timeout,
    bodyTimeoutS: config.request_body_timeout,
    keepAliveTimeoutS: config.keep_alive_timeout,
    maxHeaderSize: config.max_header_size,
    maxPipelinedRequests: config.max_pipelined_requests,
    maxRequestBytesInFlight: config.max_request_bytes_in_flight,
    maxRequestSize: config.max_request_size,
  };
}

/**
 * Milliseconds a connection closed with an answer stays readable (what arrives is discarded) before
 * it is destroyed: closing a socket with unread input makes the kernel send a reset, which can
 * discard the answer at the client before it is read.
 */
const LINGER_MS = 2_000;

/**
 * Connections over `max_connections` that may linger at once while their 503 is delivered; beyond
 * them Node closes new connections without an answer, so a flood cannot hold more descriptors.
 */
const REFUSING_SLOTS = 64;

/** Seconds between two server-log lines counting what the limits refused. */
const REPORT_EVERY_MS = 10_000;

interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
}

/** Per connection: requests received and not yet answered, oldest first (the first is being handled). */
interface ConnectionState {
  outstanding: Exchange[];
  /** Set once it sent more than `max_pipelined_requests`: whatever it sends after is dropped. */
  refused: boolean;
  dropped: number;
  /** Set once an answer closed it (a timeout or a parse error): later parser errors only destroy it. */
  closing: boolean;
}

type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The node:http server under one listener, with every limit a client could otherwise push past:
 *
 * - `max_connections`: a connection over it is answered 503 `TooManyConnections` and closed before
 *   any HTTP parsing (Node's own `maxConnections` would close it without an answer);
 * - `request_header_timeout`: Node's `headersTimeout`, checked every tenth of it (Node checks every
 *   30 s by default, so a 1 s limit could take 31 s to act);
 * - `request_body_timeout`: a timer per request from the end of its headers, rather than Node's
 *   `requestTimeout`, which counts from the request's first byte and so would also charge a
 *   pipelined request the time the server made it wait;
 * - `max_request_bytes_in_flight`: the bodies of the requests being handled (read, queued or in a
 *   worker) are counted by their declared length; a request whose body would go past it is answered
 *   503 `TooManyRequestBytes` before its body is read (Node then reads and discards it, keeping the
 *   connection), so no number of clients can make the server hold more bodies than that;
 * - `keep_alive_timeout` and `max_header_size`: Node's;
 * - `max_pipelined_requests`: pipelined requests are handed on one at a time (Node hands on every
 *   request it parses at once, so one connection could fill a model's queue); one waiting unread
 *   body stops Node reading the connection, so a pipelining client holds one body like any other.
 *
 * These answers are sent outside fastify, with the catalogue's body: as raw bytes on the socket
 * where no request object exists yet (connections, headers, parse errors, a stalled body), on the
 * request's own response for the pipelining and body-bytes ones. All but `TooManyRequestBytes`
 * close the connection. They are counted in the server log (`LimitLog`), not the access log. The
 * server answers `clientError` itself; fastify's own handler must be a no-op.
 */
export function createLimitedServer(limits: ConnectionLimits, handler: RequestHandler, log: LimitLog): http.Server {
  const states = new WeakMap<Socket, ConnectionState>();
  const headerTimeoutMs = Math.round(limits.headerTimeoutS * 1000);
  const server = http.createServer(
    {
      headersTimeout: headerTimeoutMs,
      requestTimeout: 0,
      connectionsCheckingInterval: Math.max(20, Math.min(1_000, Math.round(headerTimeoutMs / 10))),
      // Node refuses a head whose counted bytes reach its limit; max_header_size is the most allowed.
      maxHeaderSize: limits.maxHeaderSize + 1,
    },
    (req, res) => takeRequest(req, res),
  );
  server.keepAliveTimeout = Math.round(limits.keepAliveTimeoutS * 1000);
  server.maxConnections = limits.maxConnections + REFUSING_SLOTS;
  server.on('drop', () => log.hit('dropped'));
  server.on('clientError', answerClientError);
  server.on('close', () => log.flush());
  gateConnections(server, limits.maxConnections, (socket) => {
    states.set(socket, { outstanding: [], dropped: 0, refused: false, closing: false });
  }, log);

  function takeRequest(req: IncomingMessage, res: ServerResponse): void {
    const state = states.get(req.socket);
    if (state === undefined) {
      handler(req, res); // not a connection the gate admitted: cannot happen, but never leave it unanswered
      return;
    }
    if (state.refused) {
      // Dropped (Node aborts it when the connection closes); a client that goes on sending after
      // its 429 loses the connection at once, so it cannot pile up requests behind slow answers.
      if (++state.dropped > limits.maxPipelinedRequests) req.socket.destroy();
      return;
    }
    if (state.outstanding.length >= limits.maxPipelinedRequests) {
      state.refused = true;
      log.hit(TooManyPipelinedRequests.code);
      // Queued by Node behind the earlier answers; `Connection: close` ends the connection after it.
      answer(res, new TooManyPipelinedRequests(limits.maxPipelinedRequests), { close: true });
      return;
    }
    const exchange = { req, res };
    state.outstanding.push(exchange);
    res.once('close', () => {
      const at = state.outstanding.indexOf(exchange);
      if (at >= 0) state.outstanding.splice(at, 1);
      if (at === 0 && state.outstanding[0] !== undefined) handOn(state, state.outstanding[0]);
    });
    if (state.outstanding.length === 1) handOn(state, exchange);
  }

  let bytesInFlight = 0;

  function handOn(state: ConnectionState, { req, res }: Exchange): void {
    const bytes = bodyBytes(req, limits.maxRequestSize);
    const overBudget = bytes > 0 && bytesInFlight + bytes > limits.maxRequestBytesInFlight;
    if (!overBudget && bytes > 0) {
      bytesInFlight += bytes;
      res.once('close', () => (bytesInFlight -= bytes));
    }
    if (hasBody(req) && !req.complete) {
      const timer = setTimeout(() => {
        if (req.complete || req.socket.destroyed) return;
        log.hit(RequestTimeout.code);
        // Answered already (e.g. 413 from the declared length) while the body still trickles in: close.
        if (res.headersSent || state.outstanding[0]?.req !== req) req.socket.destroy();
        else closeWithAnswer(req.socket, state, new RequestTimeout('body', 'request_body_timeout', limits.bodyTimeoutS));
      }, Math.round(limits.bodyTimeoutS * 1000));
      timer.unref();
      const clear = () => {
        if (req.complete) clearTimeout(timer);
      };
      res.once('close', clear);
      req.once('end', clear);
    }
    if (overBudget) {
      log.hit(TooManyRequestBytes.code);
      answer(res, new TooManyRequestBytes(limits.maxRequestBytesInFlight), { close: false });
    } else {
      handler(req, res);
    }
  }

  /**
   * What Node could not parse, or a request whose headers did not arrive in time, gets the
   * catalogue answer and the connection is closed, unless an earlier request of the connection is
   * still being answered, which the raw bytes would corrupt: then it is only closed.
   */
  function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const state = states.get(socket);
    if (state === undefined || state.closing) {
      socket.destroy();
      return;
    }
    const refusal =
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new RequestTimeout('headers', 'request_header_timeout', limits.headerTimeoutS)
        : error.code === 'HPE_HEADER_OVERFLOW'
          ? new RequestHeadersTooLarge(limits.maxHeaderSize)
          : new BadRequest(`The request is not valid HTTP/1.1 (${error.code ?? 'parse error'})`);
    log.hit(refusal.code);
    const [first, ...later] = state.outstanding;
    const answerable = first === undefined || (later.length === 0 && !first.req.complete && !first.res.headersSent);
    if (answerable) closeWithAnswer(socket, state, refusal);
    else socket.destroy();
  }

  return server;
}

/**
 * Replaces the http server's own `connection` listener (Node's HTTP parser set-up) with one that
 * counts connections and answers the one over `max` before any parser is attached.
 */
function gateConnections(server: http.Server, max: number, admitted: (socket: Socket) => void, log: LimitLog): void {
  const listeners = server.listeners('connection');
  const parse = listeners[0] as ((socket: Socket) => void) | undefined;
  if (listeners.length !== 1 || parse === undefined) throw new Error(`node:http server has ${listeners.length} connection listeners, expected its own one`);
  server.removeListener('connection', parse);
  let open = 0;
  server.on('connection', (socket: Socket) => {
    if (open >= max) {
      log.hit(TooManyConnections.code);
      socket.on('error', () => undefined);
      socket.resume(); // read and discard, so the close is not a reset
      socket.end(rawAnswer(new TooManyConnections(max)));
      linger(socket);
      return;
    }
    open++;
    socket.once('close', () => open--);
    admitted(socket);
    parse.call(server, socket);
  });
}

function closeWithAnswer(socket: Socket, state: ConnectionState, error: NodeserveError): void {
  state.closing = true;
  if (socket.writable) socket.end(rawAnswer(error));
  linger(socket);
}

function linger(socket: Socket): void {
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

/** A whole HTTP/1.1 answer in the catalogue's shape, for a socket no response object owns. */
function rawAnswer(error: NodeserveError): string {
  const { status, body, retryAfter } = fromCatalogue(error);
  const json = JSON.stringify(body);
  return [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(json)}`,
    'Connection: close',
    ...(retryAfter === undefined ? [] : [`Retry-After: ${Math.max(1, Math.ceil(retryAfter))}`]),
    '',
    json,
  ].join('\r\n');
}

/** An answer from the catalogue on a request's own response, outside fastify. */
function answer(res: ServerResponse, error: NodeserveError, { close }: { close: boolean }): void {
  const { status, body, retryAfter } = fromCatalogue(error);
  const json = JSON.stringify(body);
  res
    .writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(json),
      ...(retryAfter === undefined ? {} : { 'retry-after': String(Math.max(1, Math.ceil(retryAfter))) }),
      ...(close ? { connection: 'close' } : {}),
    })
    .end(json);
}

/**
 * Bytes the request's body may take in memory: its declared length, or `max_request_size` for a
 * chunked body; none for a declared length over `max_request_size`, which the routes refuse unread.
 */
function bodyBytes(req: IncomingMessage, maxRequestSize: number): number {
  const length = req.headers['content-length'];
  if (length !== undefined) {
    const declared = Number(length);
    return Number.isFinite(declared) && declared <= maxRequestSize ? declared : 0;
  }
  return req.headers['transfer-encoding'] === undefined ? 0 : maxRequestSize;
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/**
 * Counts what the limits refused or closed, and writes one `warn` line with the counts at most
 * every ten seconds, so a flood of slow or excess clients is seen in the log without filling it.
 */
export class LimitLog {
  private counts: Record<string, number> = {};
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly logger: ServerLogger,
    private readonly api: string,
  ) {}

  hit(code: string): void {
    this.counts[code] = (this.counts[code] ?? 0) + 1;
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => this.flush(), REPORT_EVERY_MS);
    this.timer.unref();
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (Object.keys(this.counts).length === 0) return;
    this.logger.warn('connection limits refused or closed connections', { api: this.api, ...this.counts });
    this.counts = {};
  }
}
