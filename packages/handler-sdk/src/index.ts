// The handler SDK's public API. Anything not exported here is internal and may change.

// What the worker hands a handler, and what a handler answers.
export type {
  BytesResponse, Context, HandleFn, HandlerModule, HandlerResult, Logger, MetricsRecorder, NamedTensor, RequestInput,
  SystemProperties, TensorResponse, TensorValues,
} from './types.js';
export { TENSOR_DATATYPES, type TensorDatatype } from './tensors/datatypes.js';
export { tensorResponse, namedTensor, isTensorResponse } from './tensors/tensor-response.js';
export { bytesResponse, isBytesResponse } from './tensors/bytes-response.js';
export { concatBatch, splitBatch } from './tensors/batch.js';

// Errors that fail one request with a stable code and HTTP status (docs/errors.md).
export {
  HandlerError, InvalidInput, ImageUnreadable, ImageTooLarge, ModelFailed, GpuUnavailable, HANDLER_ERRORS,
} from './errors.js';

// The handler classes, as TorchServe's: BaseHandler → VisionHandler → ImageClassifier.
export { BaseHandler, type Batch, type ModelOutputs } from './handlers/base-handler.js';
export { VisionHandler } from './handlers/vision-handler.js';
export { ImageClassifier, DEFAULT_TOPK, requestedTopk } from './handlers/image-classifier.js';
export { handlerSettings, type HandlerSettings } from './handlers/settings.js';
export { resolveModelFile } from './handlers/model-file.js';
export { serve, type ServableHandler, type ServedModule } from './handlers/serve.js';
export { createContext, type CreateContextOptions } from './context/create-context.js';

// Building blocks for handlers of other shapes.
export { createSession, type ExecutionProvider, type LoadedSession } from './onnx/create-session.js';
export { sessionOptions } from './onnx/session-options.js';
export { describeSession, type ModelDescription, type TensorMetadata } from './onnx/describe.js';
export { selectImageBackend, IMAGE_BACKEND_ENV, JPEG_DECODER_ENV, type ImageBackend, type ImageBackendName, type JpegDecoderName, type DecodedPixels } from './image/backend.js';
export { TURBOJPEG_LIBRARY_ENV } from './image/turbojpeg.js';
export { preprocessImage } from './image/preprocess-image.js';
export { imagenetTransform, IMAGENET_MEAN, IMAGENET_STD, type ImageTransform } from './image/transform.js';
export { loadLabels } from './labels/load-labels.js';
export { softmax } from './classification/softmax.js';
export { topK, labelled, type ClassScore } from './classification/top-k.js';
// Handlers build and read tensors with the same ONNX Runtime the SDK loaded.
export { Tensor, InferenceSession } from 'onnxruntime-node';
