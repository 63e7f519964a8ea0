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
}
