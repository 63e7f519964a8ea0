import { Metadata, status as Status } from '@grpc/grpc-js';
import { toHttpError, type HttpError, type RequestLimits } from '../http/errors.js';

/**
 * The one mapping from the catalogue's HTTP statuses to gRPC status codes, as KServe's and Triton's
 * gRPC servers answer the same failures: a bad request INVALID_ARGUMENT, an unknown model NOT_FOUND, a
 * full queue or a draining server UNAVAILABLE (gRPC's "retry later"), a response timeout
 * DEADLINE_EXCEEDED. A message over `max_request_size` is RESOURCE_EXHAUSTED, the code gRPC itself
 * gives a message over the receive limit, so clients see one code for "too large" whichever layer
 * refuses it. docs/api.md has this table.
 */
export const GRPC_STATUS_FOR_HTTP: Readonly<Record<number, Status>> = {
  400: Status.INVALID_ARGUMENT,
  401: Status.UNAUTHENTICATED,
  403: Status.PERMISSION_DENIED,
  404: Status.NOT_FOUND,
  405: Status.UNIMPLEMENTED,
  409: Status.ALREADY_EXISTS,
  413: Status.RESOURCE_EXHAUSTED,
  415: Status.INVALID_ARGUMENT,
  429: Status.RESOURCE_EXHAUSTED,
  500: Status.INTERNAL,
  501: Status.UNIMPLEMENTED,
  503: Status.UNAVAILABLE,
  504: Status.DEADLINE_EXCEEDED,
};

/** A status not in the table: any other 4xx is the client's (INVALID_ARGUMENT), anything else INTERNAL. */
export function grpcStatusFor(httpStatus: number): Status {
  return GRPC_STATUS_FOR_HTTP[httpStatus] ?? (httpStatus >= 400 && httpStatus < 500 ? Status.INVALID_ARGUMENT : Status.INTERNAL);
}

/** Trailing metadata of an error answer: the catalogue's stable code, as REST's `type`. */
export const ERROR_TYPE_KEY = 'error-type';

export interface GrpcFailure {
  /** For `callback(failure)`: code, details (the message), trailing metadata. */
  code: Status;
  details: string;
  metadata: Metadata;
  /** What REST would have answered, for the access log, metrics and the server log. */
  http: HttpError;
}

/**
 * Anything thrown while answering a call, as its gRPC status: through `toHttpError` (catalogue errors
 * keep their code and message, anything else is `InternalServerError` with the details left in the
 * server log), then the table above. The trailing metadata carries `error-type` and, for a full queue
 * or a model not ready yet, `retry-after` in seconds.
 */
export function toGrpcFailure(error: unknown, limits: RequestLimits): GrpcFailure {
  const http = toHttpError(error, limits);
  const metadata = new Metadata();
  metadata.set(ERROR_TYPE_KEY, http.body.type);
  if (http.retryAfter !== undefined) metadata.set('retry-after', String(Math.max(1, Math.ceil(http.retryAfter))));
  return { code: grpcStatusFor(http.status), details: http.body.message, metadata, http };
}
