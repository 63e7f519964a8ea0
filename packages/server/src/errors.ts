/**
 * Every error the server answers with. Each has a stable `code` (clients match on it, never on the
 * message) and the HTTP `status` it maps to; the HTTP layers turn any of them into
 * `{"code", "type", "message"}` (or the v2 protocol's `{"error"}`) in one place each.
 */
export class ServeError extends Error {
  readonly code: string;
  readonly status: number;
  /** Seconds a client should wait before retrying (sent as `Retry-After`). */
  readonly retryAfter?: number;

  constructor(code: string, status: number, message: string, options?: { cause?: unknown; retryAfter?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    if (options?.retryAfter !== undefined) this.retryAfter = options.retryAfter;
  }
}

export class ModelNotFound extends ServeError {
  constructor(name: string, version?: string) {
    super('ModelNotFound', 404, version === undefined ? `Model not found: ${name}` : `Model version not found: ${name}/${version}`);
  }
}

export class QueueFull extends ServeError {
  constructor(model: string, capacity: number, retryAfter = 1) {
    super('QueueFull', 503, `Model "${model}" has ${capacity} requests queued, the most its queue holds; retry later`, { retryAfter });
  }
}

export class ModelNotReady extends ServeError {
  constructor(model: string, why: string) {
    super('ModelNotReady', 503, `Model "${model}" cannot take requests: ${why}`, { retryAfter: 1 });
  }
}

export class ServerDraining extends ServeError {
  constructor() {
    super('ServerDraining', 503, 'The server is shutting down and takes no new requests');
  }
}

/** The worker running the request died (crash, exit, out of memory) before answering. */
export class WorkerDied extends ServeError {
  constructor(model: string, reason: string) {
    super('WorkerDied', 500, `The worker for model "${model}" died while handling this request: ${reason}`);
  }
}

export class HandlerTimeout extends ServeError {
  constructor(model: string, seconds: number) {
    super('HandlerTimeout', 504, `Model "${model}" did not answer within its response timeout of ${seconds} s`);
  }
}

/**
 * The handler failed this request. Its own `code` and `status` (a `HandlerError` from the SDK, e.g.
 * `InvalidInput` → 400) pass through; anything else is a 500 with the handler's message.
 */
export class HandlerFailed extends ServeError {
  readonly type: string;
  /** The handler's stack, for the server log only: clients get the message. */
  readonly handlerStack?: string;

  constructor(init: { code?: string; status?: number; type?: string; message: string; stack?: string }) {
    super(init.code ?? 'HandlerError', init.status ?? 500, init.message);
    this.type = init.type ?? 'HandlerError';
    if (init.stack !== undefined) this.handlerStack = init.stack;
  }
}

/** A model with this name and version is already registered. */
export class ModelConflict extends ServeError {
  constructor(name: string, version: string) {
    super('ModelConflict', 409, `Model "${name}" version ${version} is already registered`);
  }
}

/**
 * A model's workers could not start: its handler failed to import or `initialize` threw. The message
 * carries the handler's own message so start-up can exit naming the reason; the stack is for the log.
 */
export class ModelLoadFailed extends ServeError {
  readonly handlerStack?: string;

  constructor(model: string, reason: string, stack?: string) {
    super('ModelLoadFailed', 500, `Model "${model}" failed to load: ${reason}`);
    if (stack !== undefined) this.handlerStack = stack;
  }
}

export class BadRequest extends ServeError {
  constructor(message: string, code = 'BadRequest') {
    super(code, 400, message);
  }
}

export class PayloadTooLarge extends ServeError {
  constructor(limit: number) {
    super('PayloadTooLarge', 413, `Request body is larger than max_request_size (${limit} bytes)`);
  }
}

/** Start-up and configuration failures: the CLI prints the message and exits non-zero. */
export class ConfigError extends ServeError {
  constructor(message: string) {
    super('ConfigError', 500, message);
  }
}
