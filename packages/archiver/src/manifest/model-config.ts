import { z } from 'zod';

/**
 * Per-model serving settings, given at archive time with `--config-file` (JSON or YAML) and stored
 * in the manifest. Keys follow TorchServe's model-config.yaml so its users recognise them; the
 * server's defaults (config.properties) apply to every key left out, and management API parameters
 * override both.
 */
export const ModelConfigSchema = z.strictObject({
  minWorkers: z.number().int().min(0).max(64).optional(),
  maxWorkers: z.number().int().min(1).max(64).optional(),
  batchSize: z.number().int().min(1).max(1024).optional(),
  /** Milliseconds a worker waits, from the first request it took, to fill a batch. */
  maxBatchDelay: z.number().int().min(0).max(60_000).optional(),
  /** Seconds a batch may run before it is answered 504 and its worker replaced. */
  responseTimeout: z.number().positive().max(86_400).optional(),
  /** Seconds a worker may spend importing the handler and running `initialize`. */
  startupTimeout: z.number().positive().max(3_600).optional(),
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
