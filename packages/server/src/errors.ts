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
    super(`Model archive not found in the model store: ${url}`);
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

export class PayloadTooLarge extends NodeserveError {
  static readonly code = 'PayloadTooLarge';
  static readonly status = 413;
  constructor(limit: number) {
    super(`Request body is larger than max_request_size (${limit} bytes)`);
  }
}

export class UnsupportedMediaType extends NodeserveError {
  static readonly code = 'UnsupportedMediaType';
  static readonly status = 415;
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

export class ServerDraining extends NodeserveError {
  static readonly code = 'ServerDraining';
  static readonly status = 503;
  constructor() {
    super('The server is shutting down and takes no new requests');
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
  BadRequest, InvalidModelName, DownloadFailed, Unauthorized, ArchiveNotAllowed, ModelNotFound, ArchiveNotFound,
  ResourceNotFound, ModelApiDisabled, ModelConflict, ArchiveExists, PayloadTooLarge, UnsupportedMediaType,
  InternalServerError, WorkerDied, InvalidHandlerOutput, ModelLoadFailed, QueueFull, ModelNotReady, ServerDraining,
  HandlerTimeout, ServerConfigInvalid, StartupFailed, StartupAborted,
] as const;
