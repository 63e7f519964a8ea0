import type { InferenceSession } from 'onnxruntime-node';
import type { TensorDatatype } from '../types.js';
import { toV2Datatype } from './datatypes.js';

export interface TensorMetadata {
  name: string;
  datatype: TensorDatatype;
  /** -1 marks a dynamic dimension, as the v2 protocol writes it. */
  shape: number[];
}

/**
 * The v2 `platform` of a model run by ONNX Runtime. The protocol's platform names are
 * `<project>_<format>` (required_api.md, "Platforms"); this is the name Triton, the protocol's reference
 * server, reports for ONNX models (the list in required_api.md writes it `onnx_onnxv1`).
 */
export const ONNX_RUNTIME_PLATFORM = 'onnxruntime_onnx';

/** What the KServe v2 model-metadata endpoint serves. */
export interface ModelDescription {
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  platform: typeof ONNX_RUNTIME_PLATFORM;
}

function describeValues(values: readonly InferenceSession.ValueMetadata[]): TensorMetadata[] {
  return values.flatMap((v) => {
    if (!v.isTensor) return [];
    const datatype = toV2Datatype(v.type);
    if (datatype === undefined) return [];
    return [{ name: v.name, datatype, shape: v.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) }];
  });
}

/** The session's tensor inputs and outputs in v2 terms; values v2 cannot express are left out. */
export function describeSession(session: InferenceSession): ModelDescription {
  return { inputs: describeValues(session.inputMetadata), outputs: describeValues(session.outputMetadata), platform: ONNX_RUNTIME_PLATFORM };
}
