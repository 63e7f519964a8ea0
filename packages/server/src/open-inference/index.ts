/**
 * The Open Inference Protocol (KServe v2) apart from its transport: request bounds, tensors and their
 * encodings, what the handler receives, the model's metadata held as a contract, readiness and metadata. Its REST binding (`http/v2`) and its
 * gRPC binding (`grpc/`) both serve from here, so the two front doors answer alike.
 */
export { serverReady, modelReady } from './health.js';
export { serverMetadata, modelMetadata, type ModelMetadataAnswer, type ServerMetadata } from './metadata.js';
export {
  DEFAULT_OUTPUT_NAME, inferRequestInput, outcomeTensors, protocolParameters, runInfer, selectOutputs,
  type DecodedInfer, type InferAnswer, type InferOptions, type InferRequestContext,
} from './infer.js';
export { checkInputs, checkOutputs, checkRequestedOutputs } from './model-contract.js';
export { parseInferRequest } from './request.js';
export * from './schemas.js';
export * from './tensors.js';
