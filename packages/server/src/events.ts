import { EventEmitter } from 'node:events';
import type { LostBatchCause } from './batching/job.js';

/**
 * What the serving core reports as it runs. Metrics, the access log and anything else that observes
 * the server subscribe here, so the request path never calls into them directly.
 */
export interface ServerEventMap {
  /** A request to a model's inference endpoint got its one answer (any API: /predictions, KServe v1, REST /v2 or gRPC ModelInfer). */
  'request.finished': [{
    model: string; version: string; api: 'predictions' | 'v1' | 'v2' | 'grpc';
    /** The HTTP status, or for gRPC the status REST would have answered (docs/api.md has the table). */
    status: number;
    /** Milliseconds from arrival to dispatch to a worker (0 when refused before queueing). */
    queueMs: number;
    /** Milliseconds the batch holding it spent in the handler (0 when it never reached one). */
    inferenceMs: number;
    /** Milliseconds from arrival to the response being written. */
    totalMs: number;
  }];
  /** Any API answered any request (TorchServe's `Requests2XX`/`4XX`/`5XX` count these). */
  'http.response': [{ status: number }];
  /** A worker finished running one batch. */
  'batch.finished': [{ model: string; version: string; size: number; inferenceMs: number }];
  /** A model's queue length changed. */
  'queue.depth': [{ model: string; version: string; depth: number }];
  'worker.started': [{ model: string; version: string; workerId: string; pid: number }];
  /** A worker ended; `expected` is false for crashes, timeouts and other failures. */
  'worker.exited': [{ model: string; version: string; workerId: string; pid: number; expected: boolean; reason: string }];
  /** A worker's memory, sampled periodically. */
  'worker.memory': [{ model: string; version: string; workerId: string; pid: number; rssBytes: number }];
  /** A handler recorded a custom metric through `context.metrics`. */
  'custom.metric': [{
    model: string; version: string; kind: 'counter' | 'gauge' | 'histogram';
    name: string; value: number; labels: Record<string, string>;
  }];
  /**
   * A handler failed one request or a whole batch (it threw, returned an error, or returned the wrong
   * number of results). Clients get the message; the stack is for logs.
   */
  'handler.failed': [{
    model: string; version: string; workerId: string; requestIds: string[];
    code: string; status: number; message: string; stack?: string;
  }];
  /**
   * A request's worker was lost while running its batch (`cause`: the process died, or was killed
   * past the response timeout) and the request was queued again, to run alone on another worker.
   */
  'request.retried': [{ model: string; version: string; requestId: string; cause: LostBatchCause }];
  /** A retried request lost its worker again (`cause`): it is answered that failure and not tried again. */
  'request.retryFailed': [{ model: string; version: string; requestId: string; cause: LostBatchCause }];
  'model.registered': [{ model: string; version: string }];
  'model.unregistered': [{ model: string; version: string }];
}

export class ServerEvents extends EventEmitter<ServerEventMap> {}
