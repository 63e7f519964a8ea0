/**
 * The tensor datatypes of the Open Inference Protocol (KServe v2, `predict-api-v2`), in the protocol's
 * order: what handlers receive and return, what the v2 REST and gRPC APIs accept, what the OpenAPI
 * document lists. Written here once; `@nodeserve/handler-sdk/datatypes` gives the list without
 * loading the rest of the SDK (ONNX Runtime, sharp).
 */
export const TENSOR_DATATYPES = [
  'BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES',
] as const;

export type TensorDatatype = (typeof TENSOR_DATATYPES)[number];
