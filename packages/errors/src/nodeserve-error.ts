/**
 * The base of every error nodeserve raises on purpose, in every package: the archiver's refusals, a
 * handler's typed errors and the server's own. Each concrete error is a class named after its stable
 * `code` (clients and scripts match on the code, never on the message), declaring its HTTP `status`
 * once as static fields:
 *
 * ```ts
 * export class QueueFull extends NodeserveError {
 *   static readonly code = 'QueueFull';
 *   static readonly status = 503;
 *   constructor(model: string) { super(`Model "${model}" …`, { retryAfter: 1 }); }
 * }
 * ```
 *
 * The server maps any `NodeserveError` to HTTP in one place with `instanceof`. Modelled on fastify's
 * `lib/errors.js`: one catalogue per package, every code documented, a test walking the catalogues.
 */
export class NodeserveError extends Error {
  /** Stable identifier: the class name for catalogue errors; a handler's own for a pass-through. */
  readonly code: string;
  /** The HTTP status the error is answered with (400–599). */
  readonly status: number;
  /** Seconds a client should wait before retrying, sent as `Retry-After`. */
  readonly retryAfter?: number;

  constructor(message: string, options: NodeserveErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const declared = new.target as unknown as Partial<ErrorDeclaration>;
    this.name = new.target.name;
    this.code = options.code ?? declared.code ?? new.target.name;
    this.status = options.status ?? declared.status ?? 500;
    if (options.retryAfter !== undefined) this.retryAfter = options.retryAfter;
  }
}

export interface NodeserveErrorOptions {
  cause?: unknown;
  retryAfter?: number;
  /** Only for errors whose code is not fixed by their class (a handler's own, passed through). */
  code?: string;
  /** Only with `code`. */
  status?: number;
}

/** What a catalogue class declares about itself. */
export interface ErrorDeclaration {
  readonly code: string;
  readonly status: number;
}

/** A catalogue entry: a concrete error class with its declared code and status. */
export type CatalogueError = ErrorDeclaration & { readonly name: string; readonly prototype: NodeserveError };
