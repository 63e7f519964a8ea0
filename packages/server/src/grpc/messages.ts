/**
 * The messages of `proto/grpc_predict_v2.proto` as `@grpc/proto-loader` hands them over with the
 * options in `proto.ts` (field names as in the proto, repeated fields always arrays, maps always
 * objects, 64-bit integers as decimal strings, bytes as Buffers, absent scalars `undefined`). Replies
 * are written in the same shape; 64-bit fields may be numbers there.
 */

/** One request or response parameter: exactly one of the three is set, named by `parameter_choice`. */
export interface InferParameter {
  bool_param?: boolean;
  int64_param?: string | number;
  string_param?: string;
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param';
}

export type InferParameters = Record<string, InferParameter>;

/** A tensor's elements in the repeated field of its datatype (FP16 has none: it travels raw). */
export interface InferTensorContents {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: Array<string | number>;
  uint_contents?: number[];
  uint64_contents?: Array<string | number>;
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Uint8Array[];
}

export interface InferInputTensor {
  name?: string;
  datatype?: string;
  shape: Array<string | number>;
  parameters: InferParameters;
  contents?: InferTensorContents;
}

export interface InferRequestedOutputTensor {
  name?: string;
  parameters: InferParameters;
}

export interface ModelInferRequest {
  model_name?: string;
  model_version?: string;
  id?: string;
  parameters: InferParameters;
  inputs: InferInputTensor[];
  outputs: InferRequestedOutputTensor[];
  raw_input_contents: Buffer[];
}

export interface InferOutputTensor {
  name: string;
  datatype: string;
  shape: number[];
  parameters?: InferParameters;
  contents?: InferTensorContents;
}

export interface ModelInferResponse {
  model_name: string;
  model_version: string;
  id?: string;
  parameters?: InferParameters;
  outputs: InferOutputTensor[];
  raw_output_contents?: Uint8Array[];
}

/** `ModelReadyRequest` and `ModelMetadataRequest`: a model and, optionally, its version. */
export interface ModelRef {
  name?: string;
  version?: string;
}

export interface TensorMetadataMessage {
  name: string;
  datatype: string;
  shape: number[];
}

export interface ModelMetadataResponse {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadataMessage[];
  outputs: TensorMetadataMessage[];
}
