import type { ModelConfig } from '@nodeserve/archiver';
import { env, type InferenceSession } from 'onnxruntime-node';

/**
 * Thread counts and graph optimisation from the model config; ONNX Runtime's defaults for what it
 * leaves out. Intra-op threads never spin-wait: between two runs a worker decodes and preprocesses
 * the next images on the same cores, and ONNX Runtime's threads spinning for work there took the CPU
 * the decoder needed (MobileNet v2 int8 with JPEG preprocessing, one session of 2 threads on 2 cores:
 * 17–19 ms of CPU per image spinning, 10 ms not, and 1.3–1.6× the images per second; docs/server.md).
 */
export function sessionOptions(config: ModelConfig): InferenceSession.SessionOptions {
  const options: InferenceSession.SessionOptions = {
    graphOptimizationLevel: config.graphOptimizationLevel ?? 'all',
    // The session's own logger prints only errors: no warnings such as nodes left to the CPU by a GPU provider.
    // It does not cover provider library loading, which goes through the process-wide logger (quietOrtLogging).
    logSeverityLevel: 3,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
  if (config.intraOpNumThreads !== undefined) options.intraOpNumThreads = config.intraOpNumThreads;
  if (config.interOpNumThreads !== undefined) options.interOpNumThreads = config.interOpNumThreads;
  return options;
}

/**
 * Probing a GPU provider whose libraries are missing makes ONNX Runtime's process-wide logger print
 * `[E:onnxruntime:…, provider_bridge_ort.cc…] Failed to load library …` to stderr, although the
 * session creation also throws. The SDK reports each failed provider itself (the context's logger,
 * `GpuUnavailable`), so it raises the process-wide level to `fatal`. ONNX Runtime reads the level
 * once, when the process creates its first session, so this must run before that; a handler that set
 * `env.logLevel` to anything but the default `warning` keeps its choice. Not silenced: WebGPU's Dawn
 * prints its own "Couldn't load Vulkan" warning to stderr when no Vulkan driver is installed.
 */
export function quietOrtLogging(): void {
  if (env.logLevel === 'warning') env.logLevel = 'fatal';
}
