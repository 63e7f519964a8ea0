import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { decodeModel, type OnnxModel } from '../scripts/onnx/onnx-proto.js';
import { generateSyntheticResNet50, type GenerateResult } from '../scripts/synthetic/index.js';

const run = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TSX = join(REPO_ROOT, 'node_modules/.bin/tsx');
const CLI = fileURLToPath(new URL('../scripts/generate-synthetic-resnet50.ts', import.meta.url));
const SEED = 7;

/**
 * Generation runs in a child process, as users run it: jest's module sandbox makes the tight PRNG
 * loop about ten times slower than plain Node, which would dominate the suite's time.
 */
async function generate(out: string, seed: number): Promise<GenerateResult> {
  const { stdout } = await run(TSX, [CLI, '--out', out, '--seed', String(seed), '--json'], { cwd: REPO_ROOT });
  return JSON.parse(stdout) as GenerateResult;
}

const sha256 = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');

/** A deterministic, image-like input: values in roughly the range of ImageNet-normalised pixels. */
function input(batch: number): Float32Array {
  const data = new Float32Array(batch * 3 * 224 * 224);
  for (let i = 0; i < data.length; i++) data[i] = 2 * Math.sin(i * 0.001 + Math.floor(i / (3 * 224 * 224)));
  return data;
}

describe('generate-synthetic-resnet50', () => {
  let dir: string;
  let generated: GenerateResult;
  let model: OnnxModel;
  let session: ort.InferenceSession;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'synthetic-resnet50-'));
    generated = await generate(join(dir, 'a.onnx'), SEED);
    model = decodeModel(await readFile(generated.path));
    session = await ort.InferenceSession.create(generated.path);
  });

  afterAll(async () => {
    await session?.release();
    await rm(dir, { recursive: true, force: true });
  });

  it('lays out ResNet-50 v1 as the zoo model: 53 Conv and BatchNormalization, 16 residual Adds, opset 7', () => {
    const ops: Record<string, number> = {};
    for (const node of model.graph.node) ops[node.op_type] = (ops[node.op_type] ?? 0) + 1;
    expect(ops).toEqual({
      Conv: 53,
      BatchNormalization: 53,
      Relu: 49,
      Add: 16,
      MaxPool: 1,
      GlobalAveragePool: 1,
      Flatten: 1,
      Gemm: 1,
    });
    expect(model.opset_import).toEqual([{ domain: '', version: 7 }]);
    const strides = (name: string) =>
      model.graph.node.find((n) => n.name === name)?.attribute.find((a) => a.name === 'strides')?.ints;
    // v1: the stage's stride sits on the block's first 1x1 convolution and on the projection.
    expect(strides('resnetv17_stage2_conv0_fwd')).toEqual([2, 2]);
    expect(strides('resnetv17_stage2_conv1_fwd')).toEqual([1, 1]);
    expect(strides('resnetv17_stage2_conv3_fwd')).toEqual([2, 2]);
    expect(strides('resnetv17_stage1_conv0_fwd')).toEqual([1, 1]);
  });

  it('has 25,557,032 learnable parameters, counted from the file, and reports that count', () => {
    const learnable = model.graph.initializer
      .filter((t) => !/_running_(mean|var)$/.test(t.name))
      .reduce((sum, t) => sum + t.dims.reduce((a, b) => a * b, 1), 0);
    expect(learnable).toBeGreaterThanOrEqual(25_000_000);
    expect(learnable).toBeLessThanOrEqual(26_000_000);
    expect(learnable).toBe(25_557_032);
    expect(generated.parameters).toBe(learnable);
    expect(generated.bytes).toBeGreaterThan(learnable * 4);
  });

  it('says in the model itself that the weights are synthetic and the labels meaningless', () => {
    expect(model.doc_string).toMatch(/synthetic/i);
    expect(model.doc_string).toMatch(/meaningless/i);
    const props = Object.fromEntries(model.metadata_props.map((p) => [p.key, p.value]));
    expect(props).toMatchObject({ synthetic: 'true', seed: String(SEED) });
    expect(props.labels).toMatch(/meaningless/);
  });

  it('loads in onnxruntime with input data [N,3,224,224] and output resnetv17_dense0_fwd', () => {
    expect(session.inputNames).toEqual(['data']);
    expect(session.outputNames).toEqual(['resnetv17_dense0_fwd']);
    const [data] = session.inputMetadata;
    expect(data).toMatchObject({ name: 'data', isTensor: true, type: 'float32', shape: ['N', 3, 224, 224] });
  });

  it('runs batch 1 and batch 2 with finite [n,1000] outputs, the first row the same in both', async () => {
    const one = (await session.run({ data: new ort.Tensor('float32', input(1), [1, 3, 224, 224]) })).resnetv17_dense0_fwd!;
    const two = (await session.run({ data: new ort.Tensor('float32', input(2), [2, 3, 224, 224]) })).resnetv17_dense0_fwd!;
    expect(one.dims).toEqual([1, 1000]);
    expect(two.dims).toEqual([2, 1000]);
    const a = one.data as Float32Array;
    const b = two.data as Float32Array;
    expect(a.every(Number.isFinite) && b.every(Number.isFinite)).toBe(true);
    for (let i = 0; i < 1000; i++) expect(b[i]).toBeCloseTo(a[i]!, 1);
    expect(b.subarray(1000).some((v, i) => Math.abs(v - b[i]!) > 1e-3)).toBe(true);
  });

  it('writes a byte-identical file for the same seed, and a different one for another seed', async () => {
    const again = await generate(join(dir, 'b.onnx'), SEED);
    expect(again).toMatchObject({ parameters: generated.parameters, bytes: generated.bytes });
    const original = await sha256(generated.path);
    expect(await sha256(again.path)).toBe(original);
    await rm(again.path);

    const other = await generate(join(dir, 'c.onnx'), SEED + 1);
    expect(await sha256(other.path)).not.toBe(original);
    await rm(other.path);
  });

  it('refuses to replace an existing file without --force', async () => {
    const failure = run(TSX, [CLI, '--out', generated.path, '--seed', '1'], { cwd: REPO_ROOT });
    await expect(failure).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('OUTPUT_EXISTS') });
    await expect(generateSyntheticResNet50({ out: generated.path, seed: 1 })).rejects.toMatchObject({ code: 'OUTPUT_EXISTS' });
  });
});
