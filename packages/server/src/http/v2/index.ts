export { v2Routes } from './routes.js';
export { decodeInferRequest, encodeInferResponse, INFERENCE_HEADER, type DecodedInferRequest, type EncodedInferResponse } from './codec.js';
export { DEFAULT_OUTPUT_NAME } from '../../open-inference/infer.js';
export { decodeBinaryInput, decodeJsonInput, encodeBinaryOutput, encodeJsonOutput } from '../../open-inference/tensors.js';
export * from '../../open-inference/schemas.js';
