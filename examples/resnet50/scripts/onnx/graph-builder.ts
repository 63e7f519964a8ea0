import { endianness } from 'node:os';
import {
  ATTRIBUTE_TYPE,
  TENSOR_FLOAT,
  type OnnxAttribute,
  type OnnxDimension,
  type OnnxGraph,
  type OnnxNode,
  type OnnxTensor,
  type OnnxValueInfo,
} from './onnx-proto.js';

export type AttributeValue = number | number[] | { float: number };

function toAttribute(name: string, value: AttributeValue): OnnxAttribute {
  if (Array.isArray(value)) return { name, type: ATTRIBUTE_TYPE.INTS, ints: value };
  if (typeof value === 'number') return { name, type: ATTRIBUTE_TYPE.INT, i: value };
  return { name, type: ATTRIBUTE_TYPE.FLOAT, f: value.float };
}

export function tensorValueInfo(name: string, dims: (number | string)[]): OnnxValueInfo {
  const dim: OnnxDimension[] = dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d }));
  return { name, type: { tensor_type: { elem_type: TENSOR_FLOAT, shape: { dim } } } };
}

/** Accumulates the nodes and float initializers of one ONNX graph, in the order they are added. */
export class GraphBuilder {
  private readonly nodes: OnnxNode[] = [];
  private readonly initializers: OnnxTensor[] = [];
  private parameterCount = 0;

  constructor() {
    // raw_data is little-endian by definition; a Float32Array's bytes are the host's order.
    if (endianness() !== 'LE') throw new Error('writing ONNX raw_data from Float32Array needs a little-endian host');
  }

  /** `learnable` is false for BatchNormalization running statistics, which are not parameters. */
  initializer(name: string, dims: number[], values: Float32Array, learnable = true): string {
    const expected = dims.reduce((a, b) => a * b, 1);
    if (values.length !== expected) throw new Error(`${name}: ${values.length} values for dims [${dims.join(', ')}]`);
    this.initializers.push({
      name,
      dims,
      data_type: TENSOR_FLOAT,
      raw_data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
    });
    if (learnable) this.parameterCount += values.length;
    return name;
  }

  node(opType: string, name: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, output = name): string {
    this.nodes.push({
      name,
      op_type: opType,
      input: inputs,
      output: [output],
      attribute: Object.entries(attributes).map(([key, value]) => toAttribute(key, value)),
    });
    return output;
  }

  get parameters(): number {
    return this.parameterCount;
  }

  /**
   * With IR version 3 every initializer must also be a graph input; the ONNX Model Zoo's
   * MXNet-exported models are laid out that way, and onnxruntime then treats them as constants.
   */
  build(name: string, inputs: OnnxValueInfo[], outputs: OnnxValueInfo[], listInitializersAsInputs: boolean): OnnxGraph {
    const initializerInputs = listInitializersAsInputs
      ? this.initializers.map((t) => tensorValueInfo(t.name, t.dims))
      : [];
    return {
      name,
      node: this.nodes,
      initializer: this.initializers,
      input: [...inputs, ...initializerInputs],
      output: outputs,
    };
  }
}
