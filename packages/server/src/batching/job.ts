import type { InferenceOutcome, InferenceRequest } from '../models/types.js';

/** One queued request and the promise it will settle. */
export interface Job {
  request: InferenceRequest;
  resolve(outcome: InferenceOutcome): void;
  reject(error: Error): void;
  /** `performance.now()` when a worker took it; the queue time ends there. */
  dispatchedAt?: number;
}
