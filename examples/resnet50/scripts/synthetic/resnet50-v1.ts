import { GraphBuilder, tensorValueInfo } from '../onnx/graph-builder.js';
import type { OnnxGraph } from '../onnx/onnx-proto.js';
import { SeededRandom } from './seeded-random.js';

/**
 * ResNet-50 v1 laid out as the ONNX Model Zoo's `resnet50-v1-7.onnx` (MXNet Gluon `resnet50_v1`,
 * exported at opset 7): same node order, names, attributes and initializer shapes, so onnxruntime
 * fuses and schedules it exactly as the real model. Gluon's BottleneckV1 puts the stage stride on
 * the block's first 1x1 convolution (not on the 3x3 as in "v1.5"), and its convolutions have no bias.
 */
export const INPUT_NAME = 'data';
export const OUTPUT_NAME = 'resnetv17_dense0_fwd';
export const BATCH_DIM = 'N';
export const CLASSES = 1000;

const PREFIX = 'resnetv17';
const STAGES = [
  { blocks: 3, width: 64, stride: 1 },
  { blocks: 4, width: 128, stride: 2 },
  { blocks: 6, width: 256, stride: 2 },
  { blocks: 3, width: 512, stride: 2 },
] as const;
const EXPANSION = 4;
const BN_EPSILON = 1e-5;
const BN_MOMENTUM = 0.9;

interface Counters {
  conv: number;
  batchnorm: number;
  relu: number;
}

class ResNetWriter {
  readonly graph = new GraphBuilder();

  constructor(private readonly random: SeededRandom) {}

  /** He-uniform weights keep activations at a steady scale through conv + ReLU, so outputs stay finite. */
  conv(prefix: string, counters: Counters, input: string, cin: number, cout: number, kernel: number, stride: number): string {
    const name = `${prefix}_conv${counters.conv++}`;
    const fanIn = cin * kernel * kernel;
    const weight = this.graph.initializer(
      `${name}_weight`,
      [cout, cin, kernel, kernel],
      this.random.uniform(cout * fanIn, 0, Math.sqrt(6 / fanIn)),
    );
    const pad = (kernel - 1) / 2;
    return this.graph.node('Conv', `${name}_fwd`, [input, weight], {
      dilations: [1, 1],
      group: 1,
      kernel_shape: [kernel, kernel],
      pads: [pad, pad, pad, pad],
      strides: [stride, stride],
    });
  }

  batchNorm(prefix: string, counters: Counters, input: string, channels: number): string {
    const name = `${prefix}_batchnorm${counters.batchnorm++}`;
    const g = this.graph;
    const inputs = [
      input,
      g.initializer(`${name}_gamma`, [channels], this.random.uniform(channels, 1, 0.05)),
      g.initializer(`${name}_beta`, [channels], this.random.uniform(channels, 0, 0.05)),
      g.initializer(`${name}_running_mean`, [channels], new Float32Array(channels), false),
      g.initializer(`${name}_running_var`, [channels], new Float32Array(channels).fill(1), false),
    ];
    return g.node('BatchNormalization', `${name}_fwd`, inputs, {
      epsilon: { float: BN_EPSILON },
      momentum: { float: BN_MOMENTUM },
      spatial: 1,
    });
  }

  relu(prefix: string, counters: Counters, input: string): string {
    return this.graph.node('Relu', `${prefix}_relu${counters.relu++}_fwd`, [input]);
  }

  bottleneck(stage: string, counters: Counters, block: number, input: string, cin: number, width: number, stride: number): string {
    const cout = width * EXPANSION;
    let x = this.conv(stage, counters, input, cin, width, 1, stride);
    x = this.relu(stage, counters, this.batchNorm(stage, counters, x, width));
    x = this.conv(stage, counters, x, width, width, 3, 1);
    x = this.relu(stage, counters, this.batchNorm(stage, counters, x, width));
    x = this.batchNorm(stage, counters, this.conv(stage, counters, x, width, cout, 1, 1), cout);
    const shortcut =
      block === 0 ? this.batchNorm(stage, counters, this.conv(stage, counters, input, cin, cout, 1, stride), cout) : input;
    const sum = this.graph.node('Add', `${stage}__plus${block}`, [x, shortcut]);
    return this.graph.node('Relu', `${stage}_activation${block}`, [sum]);
  }

  dense(input: string, inFeatures: number, outFeatures: number): string {
    const bound = 1 / Math.sqrt(inFeatures);
    const name = `${PREFIX}_dense0`;
    const weight = this.graph.initializer(`${name}_weight`, [outFeatures, inFeatures], this.random.uniform(outFeatures * inFeatures, 0, bound));
    const bias = this.graph.initializer(`${name}_bias`, [outFeatures], this.random.uniform(outFeatures, 0, bound));
    return this.graph.node('Gemm', `${name}_fwd`, [input, weight, bias], {
      alpha: { float: 1 },
      beta: { float: 1 },
      transA: 0,
      transB: 1,
    });
  }
}

export interface ResNet50Graph {
  graph: OnnxGraph;
  /** Learnable parameters: conv weights, BN gamma/beta, dense weight/bias (not BN running statistics). */
  parameters: number;
}

export function buildResNet50V1(seed: number): ResNet50Graph {
  const w = new ResNetWriter(new SeededRandom(seed));
  const stem: Counters = { conv: 0, batchnorm: 0, relu: 0 };
  let x = w.conv(PREFIX, stem, INPUT_NAME, 3, 64, 7, 2);
  x = w.relu(PREFIX, stem, w.batchNorm(PREFIX, stem, x, 64));
  x = w.graph.node('MaxPool', `${PREFIX}_pool0_fwd`, [x], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] });

  let channels = 64;
  STAGES.forEach(({ blocks, width, stride }, index) => {
    const stage = `${PREFIX}_stage${index + 1}`;
    const counters: Counters = { conv: 0, batchnorm: 0, relu: 0 };
    for (let block = 0; block < blocks; block++) {
      x = w.bottleneck(stage, counters, block, x, channels, width, block === 0 ? stride : 1);
      channels = width * EXPANSION;
    }
  });

  x = w.graph.node('GlobalAveragePool', `${PREFIX}_pool1_fwd`, [x]);
  // The zoo file's Flatten is named after MXNet's global symbol counter, not the network prefix.
  x = w.graph.node('Flatten', 'flatten_473', [x], { axis: 1 });
  w.dense(x, channels, CLASSES);

  const graph = w.graph.build(
    'mxnet_converted_model',
    [tensorValueInfo(INPUT_NAME, [BATCH_DIM, 3, 224, 224])],
    [tensorValueInfo(OUTPUT_NAME, [BATCH_DIM, CLASSES])],
    true,
  );
  return { graph, parameters: w.graph.parameters };
}
