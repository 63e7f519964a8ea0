import type { Tensor } from 'onnxruntime-node';
import type { TensorDatatype } from '../types.js';

const TO_V2: Partial<Record<Tensor.Type, TensorDatatype>> = {
  float32: 'FP32', float16: 'FP16', float64: 'FP64',
  int8: 'INT8', int16: 'INT16', int32: 'INT32', int64: 'INT64',
  uint8: 'UINT8', uint16: 'UINT16', uint32: 'UINT32', uint64: 'UINT64',
  bool: 'BOOL', string: 'BYTES',
};

/** The KServe v2 name of an ONNX Runtime tensor type, or `undefined` where v2 has none (int4, bfloat16). */
export function toV2Datatype(type: Tensor.Type): TensorDatatype | undefined {
  return TO_V2[type];
}
