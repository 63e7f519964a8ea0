export { v2Routes, DEFAULT_OUTPUT_NAME } from './routes.js';
export { decodeInferRequest, encodeInferResponse, INFERENCE_HEADER, type DecodedInferRequest, type EncodedInferResponse } from './codec.js';
export { decodeBinaryInput, decodeJsonInput, encodeBinaryOutput, encodeJsonOutput } from './tensors.js';
export * from './schemas.js';
