import protobuf from 'protobufjs';

/**
 * The part of onnx.proto (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto) that a model made
 * of float tensors, nodes with int/float/ints attributes and typed graph inputs/outputs needs.
 * Field numbers are onnx.proto's; fields left out are ones this project never writes, and decoders
 * skip unknown fields, so anything encoded here is a valid ModelProto.
 */
const ONNX_PROTO_SUBSET = `
syntax = "proto2";
package onnx;

message AttributeProto {
  enum AttributeType { UNDEFINED = 0; FLOAT = 1; INT = 2; STRING = 3; TENSOR = 4; GRAPH = 5; FLOATS = 6; INTS = 7; STRINGS = 8; }
  optional string name = 1;
  optional float f = 2;
  optional int64 i = 3;
  optional bytes s = 4;
  repeated float floats = 7;
  repeated int64 ints = 8;
  optional AttributeType type = 20;
}

message ValueInfoProto {
  optional string name = 1;
  optional TypeProto type = 2;
  optional string doc_string = 3;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  optional string domain = 7;
  repeated AttributeProto attribute = 5;
  optional string doc_string = 6;
}

message StringStringEntryProto {
  optional string key = 1;
  optional string value = 2;
}

message ModelProto {
  optional int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional string domain = 4;
  optional int64 model_version = 5;
  optional string doc_string = 6;
  optional GraphProto graph = 7;
  repeated StringStringEntryProto metadata_props = 14;
}

message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  optional string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
}

message TensorProto {
  enum DataType { UNDEFINED = 0; FLOAT = 1; }
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  optional string name = 8;
  optional bytes raw_data = 9;
}

message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
  }
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor {
    optional int32 elem_type = 1;
    optional TensorShapeProto shape = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
  }
}

message OperatorSetIdProto {
  optional string domain = 1;
  optional int64 version = 2;
}
`;

export const TENSOR_FLOAT = 1;

export const ATTRIBUTE_TYPE = { FLOAT: 1, INT: 2, INTS: 7 } as const;

export interface OnnxAttribute {
  name: string;
  type: (typeof ATTRIBUTE_TYPE)[keyof typeof ATTRIBUTE_TYPE];
  f?: number;
  i?: number;
  ints?: number[];
}

export interface OnnxNode {
  name: string;
  op_type: string;
  input: string[];
  output: string[];
  attribute: OnnxAttribute[];
}

export interface OnnxTensor {
  name: string;
  dims: number[];
  data_type: typeof TENSOR_FLOAT;
  /** Little-endian element bytes, as onnx.proto requires for raw_data. */
  raw_data: Uint8Array;
}

export type OnnxDimension = { dim_value: number } | { dim_param: string };

export interface OnnxValueInfo {
  name: string;
  type: { tensor_type: { elem_type: typeof TENSOR_FLOAT; shape: { dim: OnnxDimension[] } } };
}

export interface OnnxGraph {
  name: string;
  node: OnnxNode[];
  initializer: OnnxTensor[];
  input: OnnxValueInfo[];
  output: OnnxValueInfo[];
}

export interface OnnxModel {
  ir_version: number;
  opset_import: { domain: string; version: number }[];
  producer_name: string;
  producer_version: string;
  model_version: number;
  doc_string: string;
  graph: OnnxGraph;
  metadata_props: { key: string; value: string }[];
}

let modelType: protobuf.Type | undefined;

function modelProto(): protobuf.Type {
  modelType ??= protobuf.parse(ONNX_PROTO_SUBSET, { keepCase: true }).root.lookupType('onnx.ModelProto');
  return modelType;
}

export function encodeModel(model: OnnxModel): Uint8Array {
  return modelProto().encode(model).finish();
}

/** Decoded as protobufjs plain objects: int64 fields as numbers, bytes as Uint8Array. */
export function decodeModel(bytes: Uint8Array): OnnxModel {
  const message = modelProto().decode(bytes);
  return modelProto().toObject(message, { longs: Number, defaults: false, arrays: true }) as OnnxModel;
}
