/**
 * Latency buckets in seconds, from 1 ms (a small model on a warm worker) to 2 min (the default
 * response timeout), so both fast paths and timeouts land in a finite bucket.
 */
export const LATENCY_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** Batch sizes are capped at 1024 by the model config schema. */
export const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/** Handlers observe durations in milliseconds (the SDK's convention). */
export const CUSTOM_HISTOGRAM_BUCKETS = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000];
