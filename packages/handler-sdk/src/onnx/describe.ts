import type { InferenceSession } from 'onnxruntime-node';
import type { TensorDatatype } from '../types.js';
import { toV2Datatype } from './datatypes.js';

export interface TensorMetadata {
  name: string;
  datatype: TensorDatatype;
  /** -1 marks a dynamic dimension, as the v2 protocol writes it. */
  shape: number[];
}

/** What the KServe v2 model-metadata endpoint serves. */
export interface ModelDescription {
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  platform: 'onnxruntime';
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
  return { inputs: describeValues(session.inputMetadata), outputs: describeValues(session.outputMetadata), platform: 'onnxruntime' };
}
