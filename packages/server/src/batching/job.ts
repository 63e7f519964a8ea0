import type { NamedTensor, RequestInput } from '@nodeserve/handler-sdk';

/** One inference request as a front door (HTTP or gRPC) hands it to a model version. */
export interface InferenceRequest {
  input: RequestInput;
  api: 'predictions' | 'v1' | 'v2' | 'grpc';
  /** `performance.now()` when the request arrived, for queue and end-to-end timings. */
  receivedAt: number;
}

/** What a handler answered for one request, as the HTTP layers send it. */
export type InferenceResult =
  | { kind: 'json'; body: Buffer }
  | { kind: 'bytes'; body: Buffer; contentType: string }
  | { kind: 'tensors'; outputs: NamedTensor[]; parameters?: Record<string, unknown> };

/**
 * One request's answer from its worker, with its timings in milliseconds. Failures reject `submit()`
 * with a `NodeserveError` instead.
 */
export type InferenceOutcome = { queueMs: number; inferenceMs: number } & InferenceResult;

/** One queued request and the promise it will settle: exactly one of `resolve` and `reject` is called. */
export interface Job {
  request: InferenceRequest;
  resolve(outcome: InferenceOutcome): void;
  reject(error: Error): void;
  /** `performance.now()` when a worker took it; the queue time ends there. */
  dispatchedAt?: number;
  /**
   * Set once the job was in a batch its worker lost (the process died, or was killed past the
   * response timeout) and it went back to the queue to be tried again: it then runs alone, and is
   * not tried a third time (`Batcher.lost`).
   */
  retried?: { cause: LostBatchCause };
}

/** Why a worker lost the batch it was running: its process died, or it ran past the response timeout and was killed. */
export type LostBatchCause = 'died' | 'timeout';
