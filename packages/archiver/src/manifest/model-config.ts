import { z } from 'zod';

/**
 * Bounds on a model's serving settings, wherever they are set: the archive's model config, the server's
 * defaults in `config.properties`, and the management API's parameters, so no way in accepts what
 * another refuses. Workers are processes; batch delays are milliseconds; timeouts are seconds.
 */
export const MODEL_LIMITS = {
  workers: { min: 0, max: 64 },
  batchSize: { min: 1, max: 1024 },
  maxBatchDelayMs: { min: 0, max: 60_000 },
  /** A day: beyond it a batch is surely stuck. */
  responseTimeoutS: { max: 86_400 },
  /** An hour to import a handler and load its model. */
  startupTimeoutS: { max: 3_600 },
} as const;

const { workers, batchSize, maxBatchDelayMs, responseTimeoutS, startupTimeoutS } = MODEL_LIMITS;

/**
 * Per-model serving settings, given at archive time with `--config-file` (JSON or YAML) and stored
 * in the manifest. Keys follow TorchServe's model-config.yaml so its users recognise them; the
 * server's defaults (config.properties) apply to every key left out, and management API parameters
 * override both.
 */
export const ModelConfigSchema = z.strictObject({
  minWorkers: z.number().int().min(workers.min).max(workers.max).optional(),
  maxWorkers: z.number().int().min(1).max(workers.max).optional(),
  batchSize: z.number().int().min(batchSize.min).max(batchSize.max).optional(),
  /** Milliseconds a worker waits, from the first request it took, to fill a batch. */
  maxBatchDelay: z.number().int().min(maxBatchDelayMs.min).max(maxBatchDelayMs.max).optional(),
  /** Seconds a batch may run before it is answered 504 and its worker replaced. */
  responseTimeout: z.number().positive().max(responseTimeoutS.max).optional(),
  /** Seconds a worker may spend importing the handler and running `initialize`. */
  startupTimeout: z.number().positive().max(startupTimeoutS.max).optional(),
  /**
   * When the worker running a batch dies or is killed past the response timeout, try each of its
   * requests once more, alone, on another worker (default true). Set false for a handler that must
   * not run a request twice (one with side effects outside the worker).
   */
  retryOnWorkerFailure: z.boolean().optional(),
  deviceType: z.enum(['cpu', 'gpu']).optional(),
  /** GPU ids the workers are assigned to, round-robin; defaults to 0 … number_of_gpu-1. */
  deviceIds: z.array(z.number().int().min(0)).min(1).optional(),
  /** Execution providers to try on a GPU, in order. */
  gpuExecutionProviders: z.array(z.enum(['cuda', 'webgpu'])).min(1).optional(),
  /** Run on CPU when a GPU was asked for and no GPU provider could be used (logged loudly). */
  allowCpuFallback: z.boolean().optional(),
  intraOpNumThreads: z.number().int().min(1).max(256).optional(),
  interOpNumThreads: z.number().int().min(1).max(256).optional(),
  graphOptimizationLevel: z.enum(['disabled', 'basic', 'extended', 'all']).optional(),
  /** Cache the optimised graph next to the extracted model for faster cold starts. */
  cacheOptimizedModel: z.boolean().optional(),
  /** Free-form settings for the handler, as TorchServe's `handler:` section (`context.config.handler`). */
  handler: z.record(z.string(), z.unknown()).optional(),
});

export type ModelConfig = z.infer<typeof ModelConfigSchema>;
