import type { ModelConfig } from '@nodeserve/archiver';
import type { InferenceSession } from 'onnxruntime-node';

/** Thread counts and graph optimisation from the model config; ONNX Runtime's defaults for what it leaves out. */
export function sessionOptions(config: ModelConfig): InferenceSession.SessionOptions {
  const options: InferenceSession.SessionOptions = {
    graphOptimizationLevel: config.graphOptimizationLevel ?? 'all',
    // Failed provider attempts are reported through our own logger and errors, not ORT's stderr noise.
    logSeverityLevel: 3,
  };
  if (config.intraOpNumThreads !== undefined) options.intraOpNumThreads = config.intraOpNumThreads;
  if (config.interOpNumThreads !== undefined) options.interOpNumThreads = config.interOpNumThreads;
  return options;
}
