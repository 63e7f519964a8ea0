import { NodeserveError } from '@nodeserve/errors';

/**
 * The server's error catalogue. Each class is named after its stable `code` (clients match on it,
 * never on the message) and declares the HTTP `status` it is answered with; `http/errors.ts` turns
 * any of them into `{"code", "type", "message"}` (or the v2 protocol's `{"error"}`) in one place, and
 * `docs/errors.md` lists every one (a test walks this list). A handler's own errors (the SDK's
 * `HandlerError` and its subclasses) pass through with their code and status.
 */

/** The request is malformed: bad JSON or multipart, a bad query parameter, a v2 body that does not decode. */
export class BadRequest extends NodeserveError {
  static readonly code = 'BadRequest';
  static readonly status = 400;
}

/** A KServe v1 `:predict` body with more instances than one request may carry (`V1_LIMITS.maxInstances`). */
export class TooManyInstances extends NodeserveError {
  static readonly code = 'TooManyInstances';
  static readonly status = 400;
  constructor(count: number, limit: number) {
    super(`The request has ${count} instances; at most ${limit} fit in one request: split it into several requests`);
  }
}

export class InvalidModelName extends NodeserveError {
  static readonly code = 'InvalidModelName';
  static readonly status = 400;
  constructor(name: string, maxLength: number) {
    super(
      `invalid model name ${JSON.stringify(name)}: it must start with a letter or digit, hold only letters, digits, "_", "-" and ".", and be at most ${maxLength} characters`,
    );
  }
}

/** The archive named by a registration's `url` could not be downloaded. */
export class DownloadFailed extends NodeserveError {
  static readonly code = 'DownloadFailed';
  static readonly status = 400;
  constructor(url: string, why: string) {
    super(`Could not download ${url}: ${why}`);
  }
}

/** The request carries no valid key while token authorization is on. */
export class Unauthorized extends NodeserveError {
  static readonly code = 'Unauthorized';
  static readonly status = 401;
  constructor() {
    super('Token authorization failed: send "Authorization: Bearer <key>" with the key from the key file');
  }
}

/** A registration's `url` is outside the model store and matches no `allowed_urls` pattern. */
export class ArchiveNotAllowed extends NodeserveError {
  static readonly code = 'ArchiveNotAllowed';
  static readonly status = 403;
}

export class ModelNotFound extends NodeserveError {
  static readonly code = 'ModelNotFound';
  static readonly status = 404;
  constructor(name: string, version?: string) {
    super(version === undefined ? `Model not found: ${name}` : `Model version not found: ${name}/${version}`);
  }
}

export class ArchiveNotFound extends NodeserveError {
  static readonly code = 'ArchiveNotFound';
  static readonly status = 404;
  constructor(url: string) {
    super(url === '' ? 'Model archive not found: the url parameter is empty' : `Model archive not found in the model store: ${url}`);
  }
}

/** No route for this method and path. */
export class ResourceNotFound extends NodeserveError {
  static readonly code = 'ResourceNotFound';
  static readonly status = 404;
  constructor(method: string, path: string) {
    super(`Requested resource is not found: ${method} ${path}`);
  }
}

/** Registering and unregistering models needs `enable_model_api=true`. */
export class ModelApiDisabled extends NodeserveError {
  static readonly code = 'ModelApiDisabled';
  static readonly status = 405;
  constructor() {
    super('Registering and unregistering models is disabled; start the server with enable_model_api=true to allow it');
  }
}

/** A model with this name and version is already registered. */
export class ModelConflict extends NodeserveError {
  static readonly code = 'ModelConflict';
  static readonly status = 409;
  constructor(name: string, version: string) {
    super(`Model "${name}" version ${version} is already registered`);
  }
}

/** A download would overwrite a file already in the model store. */
export class ArchiveExists extends NodeserveError {
  static readonly code = 'ArchiveExists';
  static readonly status = 409;
  constructor(name: string) {
    super(`The model store already holds a file named ${name}; register it by name instead`);
  }
}

/**
 * The client did not send its request in time: the headers within `request_header_timeout` (also
 * a connection that sends nothing), or the body within `request_body_timeout` of the headers. The
 * connection is closed after this answer.
 */
export class RequestTimeout extends NodeserveError {
  static readonly code = 'RequestTimeout';
  static readonly status = 408;
  constructor(part: 'headers' | 'body', key: string, seconds: number) {
    super(`The request ${part} did not arrive within ${key} (${seconds} s); the connection is closed`);
  }
}

/** A body, multipart file or text field over its size limit; the message always names the limit. */
export class PayloadTooLarge extends NodeserveError {
  static readonly code = 'PayloadTooLarge';
  static readonly status = 413;
  constructor(limit: number, subject = 'Request body', limitName = 'max_request_size') {
    super(`${subject} is larger than ${limitName} (${limit} bytes)`);
  }
}

/** A multipart form with more fields, files or parts than a form may hold; the message names the limit. */
export class MultipartLimitExceeded extends NodeserveError {
  static readonly code = 'MultipartLimitExceeded';
  static readonly status = 413;
  constructor(what: 'fields' | 'files' | 'parts', limit: number) {
    super(`Multipart form has more than ${limit} ${what}, the most a form may hold`);
  }
}

export class UnsupportedMediaType extends NodeserveError {
  static readonly code = 'UnsupportedMediaType';
  static readonly status = 415;
}

/**
 * The client sent more than `max_pipelined_requests` requests on one connection ahead of their
 * answers; the earlier ones are answered, this one is not handled, and the connection is closed.
 */
export class TooManyPipelinedRequests extends NodeserveError {
  static readonly code = 'TooManyPipelinedRequests';
  static readonly status = 429;
  constructor(limit: number) {
    super(`More than max_pipelined_requests (${limit}) requests were sent on this connection ahead of their answers; it is closed, send the rest on a new one`);
  }
}

/** The request line and headers are larger than `max_header_size`; the connection is closed. */
export class RequestHeadersTooLarge extends NodeserveError {
  static readonly code = 'RequestHeadersTooLarge';
  static readonly status = 431;
  constructor(limit: number) {
    super(`The request line and headers are larger than max_header_size (${limit} bytes)`);
  }
}

/** Anything not raised on purpose; the details stay in the server log. */
export class InternalServerError extends NodeserveError {
  static readonly code = 'InternalServerError';
  static readonly status = 500;
  constructor() {
    super('Internal server error; the server log has the details');
  }
}

/** The worker running the request died (crash, exit, out of memory) before answering. */
export class WorkerDied extends NodeserveError {
  static readonly code = 'WorkerDied';
  static readonly status = 500;
  constructor(model: string, reason: string) {
    super(`The worker for model "${model}" died while handling this request: ${reason}`);
  }
}

/** The handler returned something the worker cannot send: the wrong number of results, or a value it cannot encode. */
export class InvalidHandlerOutput extends NodeserveError {
  static readonly code = 'InvalidHandlerOutput';
  static readonly status = 500;
}

/**
 * A model's workers could not start: its handler failed to import or `initialize` threw, or its
 * archive could not be loaded at start-up. The message names the model or archive, then the reason.
 */
export class ModelLoadFailed extends NodeserveError {
  static readonly code = 'ModelLoadFailed';
  static readonly status = 500;
}

/** KServe v1 `:explain`: no handler here produces explanations. */
export class ExplainNotSupported extends NodeserveError {
  static readonly code = 'ExplainNotSupported';
  static readonly status = 501;
  constructor(model: string) {
    super(`Model "${model}" cannot explain its predictions: explanations are not supported; use :predict`);
  }
}

export class QueueFull extends NodeserveError {
  static readonly code = 'QueueFull';
  static readonly status = 503;
  constructor(model: string, capacity: number, retryAfter = 1) {
    super(`Model "${model}" has ${capacity} requests queued, the most its queue holds; retry later`, { retryAfter });
  }
}

export class ModelNotReady extends NodeserveError {
  static readonly code = 'ModelNotReady';
  static readonly status = 503;
  constructor(model: string, why: string) {
    super(`Model "${model}" cannot take requests: ${why}`, { retryAfter: 1 });
  }
}

/** The listener already holds `max_connections` connections: this one is answered and closed at once. */
export class TooManyConnections extends NodeserveError {
  static readonly code = 'TooManyConnections';
  static readonly status = 503;
  constructor(limit: number) {
    super(`The server holds max_connections (${limit}) connections on this address; retry later`, { retryAfter: 1 });
  }
}

/**
 * The bodies of the requests this address is handling already add up to
 * `max_request_bytes_in_flight`; this one is answered before its body is read.
 */
export class TooManyRequestBytes extends NodeserveError {
  static readonly code = 'TooManyRequestBytes';
  static readonly status = 503;
  constructor(limit: number) {
    super(`The bodies of the requests in progress on this address add up to max_request_bytes_in_flight (${limit} bytes); retry later`, {
      retryAfter: 1,
    });
  }
}

export class ServerDraining extends NodeserveError {
  static readonly code = 'ServerDraining';
  static readonly status = 503;
  constructor() {
    super('The server is shutting down and takes no new requests');
  }
}

/**
 * A handler's answer is over `max_response_size`. TorchServe answers 507 for it (its frontend maps
 * the oversized reply to Insufficient Storage); the answer is dropped and the worker keeps serving.
 */
export class ResponseTooLarge extends NodeserveError {
  static readonly code = 'ResponseTooLarge';
  static readonly status = 507;
  constructor(model: string, bytes: number, limit: number) {
    super(`Model "${model}" answered ${bytes} bytes, more than max_response_size (${limit} bytes)`);
  }
}

export class HandlerTimeout extends NodeserveError {
  static readonly code = 'HandlerTimeout';
  static readonly status = 504;
  /** `note` is appended to the message as is (why the request is not tried again). */
  constructor(model: string, seconds: number, note = '') {
    super(`Model "${model}" did not answer within its response timeout of ${seconds} s${note}`);
  }
}

/** `config.properties`, the command line or `load_models` asks for something the server cannot do; it does not start. */
export class ServerConfigInvalid extends NodeserveError {
  static readonly code = 'ServerConfigInvalid';
  static readonly status = 500;
}

/** The server cannot start for a reason outside its config: a port in use, an unsafe directory, a missing build. */
export class StartupFailed extends NodeserveError {
  static readonly code = 'StartupFailed';
  static readonly status = 500;
}

/** A signal arrived while the server was starting: it stops without serving. */
export class StartupAborted extends NodeserveError {
  static readonly code = 'StartupAborted';
  static readonly status = 503;
  constructor(signal: string) {
    super(`start-up aborted by ${signal}`);
  }
}

/** Every error class the server raises itself, for the catalogue test and the docs. */
export const SERVER_ERRORS = [
  BadRequest, TooManyInstances, InvalidModelName, DownloadFailed, Unauthorized, ArchiveNotAllowed, ModelNotFound, ArchiveNotFound,
  ResourceNotFound, ModelApiDisabled, ModelConflict, ArchiveExists, PayloadTooLarge, MultipartLimitExceeded, UnsupportedMediaType,
  InternalServerError, WorkerDied, InvalidHandlerOutput, ModelLoadFailed, ExplainNotSupported, QueueFull, ModelNotReady, ServerDraining,
  HandlerTimeout, ResponseTooLarge, ServerConfigInvalid, StartupFailed, StartupAborted,
  // Connection limits (http/connection-limits.ts).
  RequestTimeout, TooManyPipelinedRequests, RequestHeadersTooLarge, TooManyConnections, TooManyRequestBytes,
] as const;
