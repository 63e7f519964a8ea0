export { v1Routes, v1LivenessRoute } from './routes.js';
export { decodeBase64, decodeInstance, parsePredictBody, V1_LIMITS, type DecodedInstance } from './instances.js';
