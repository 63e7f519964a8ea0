/**
 * Errors a handler raises. Each has a stable `code` that clients match on and the HTTP `status` it
 * maps to; the server turns any of them into `{"code", "type", "message"}` in one place. The worker
 * carries `code`, `status`, `name`, `message` and `stack` across the process boundary.
 */
export class HandlerError extends Error {
  readonly code: string;
  readonly status: number;

  constructor(code: string, status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
  }
}

/** The client sent something the handler cannot use (empty body, not an image, bad JSON…): 400. */
export class InvalidInputError extends HandlerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('InvalidInput', 400, message, options);
  }
}

/** The model failed on valid input, or could not be loaded: 500. */
export class ModelError extends HandlerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ModelError', 500, message, options);
  }
}
