import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pythonVenv } from './support/python-venv.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const KITTEN = join(ROOT, '../shared/images/kitten.jpg');
const MOBILENET = join(ROOT, '../shared/models/mobilenetv2-12-int8.onnx');
const PEER_DIR = join(ROOT, '../shared/peer-pipeline');
const IMAGES = join(ROOT, '../shared/images');

interface AbResult {
  complete: number;
  unsuccessful: number;
  keepAlive: number;
  requestsPerSec: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  percentilesMs: Array<[number, number]>;
}
interface BareEcho {
  port: number;
  stop: () => Promise<void>;
}
interface Throughput {
  imagesPerSec: number;
  images: number;
  batch: number;
}

// The bench is plain ESM JavaScript run by node; its modules are loaded as they are at run time.
const load = <T>(path: string): Promise<T> => import(join(ROOT, path)) as Promise<T>;

describe('npm run bench building blocks', () => {
  it('parses the report and percentile curve of a real ab keep-alive run against the bare node:http echo', async () => {
    const { runAb } = await load<{ runAb: (o: object) => Promise<AbResult> }>('bench/lib/ab.mjs');
    const { startBareEcho } = await load<{ startBareEcho: () => Promise<BareEcho> }>('bench/lib/bare-echo-process.mjs');
    const bare = await startBareEcho();
    try {
      const r = await runAb({ url: `http://127.0.0.1:${bare.port}/predictions/echo`, bodyFile: KITTEN, requests: 300, concurrency: 10 });
      expect(r.complete).toBe(300);
      expect(r.unsuccessful).toBe(0);
      expect(r.keepAlive).toBe(300);
      expect(r.requestsPerSec).toBeGreaterThan(0);
      expect(r.percentilesMs).toHaveLength(101);
      expect(r.percentilesMs[50]![1]).toBe(r.latencyMs.p50);
      expect(r.latencyMs.p50).toBeLessThanOrEqual(r.latencyMs.p99);
      expect(r.latencyMs.p99).toBeLessThanOrEqual(r.latencyMs.max);

      const { latencyChartSvg } = await load<{ latencyChartSvg: (o: object) => string }>('bench/lib/svg.mjs');
      const svg = latencyChartSvg({ title: 't', subtitle: 's', series: [{ label: 'bare <echo>', points: r.percentilesMs }] });
      expect(svg).toMatch(/^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
      expect(svg.match(/<path /g)).toHaveLength(1);
      expect(svg).toContain('bare &lt;echo&gt;');
    } finally {
      await bare.stop();
    }
  }, 30_000);

  it('measures in-process ONNX Runtime throughput with and without JPEG preprocessing on a real model', async () => {
    const { measureThroughput } = await load<{ measureThroughput: (o: object) => Promise<Throughput> }>('bench/lib/ceiling.mjs');
    const ort = await measureThroughput({ modelPath: MOBILENET, workers: 1, threads: 1, batch: 2, durationMs: 300 });
    expect(ort.batch).toBe(2);
    expect(ort.images % 2).toBe(0);
    expect(ort.images).toBeGreaterThan(0);
    const pipeline = await measureThroughput({
      modelPath: MOBILENET,
      workers: 1,
      threads: 1,
      batch: 1,
      durationMs: 300,
      mode: 'pipeline',
      jpegPath: KITTEN,
      preprocessModule: new URL('../bench/lib/preprocess.mjs', import.meta.url).href,
    });
    expect(pipeline.images).toBeGreaterThan(0);
  }, 30_000);

  it('says why the yardstick has no figure when Python cannot be found, instead of inventing one', async () => {
    const { prepareYardstick, runYardstick } = await load<{
      prepareYardstick: (o: object) => Promise<{ ok: boolean; reason?: string }>;
      runYardstick: (env: object, o: object) => Promise<{ ok: boolean; reason?: string }>;
    }>('bench/lib/yardstick.mjs');
    const env = await prepareYardstick({ peerDir: PEER_DIR, onnxruntimeVersion: '1.30.0', log: () => {}, python: join(ROOT, 'no-such-python3') });
    expect(env.ok).toBe(false);
    expect(env.reason).toMatch(/no-such-python3 not found: install Python 3 with venv/);
    const run = await runYardstick(env, { peerDir: PEER_DIR, model: MOBILENET, image: KITTEN, procs: 1, threads: 1, seconds: 1 });
    expect(run).toEqual({ ok: false, reason: env.reason });
  });
});

/**
 * A Python with Pillow, numpy and onnxruntime (which imagenet_onnx.py imports) for the peers' preprocessing: the bench's yardstick venv when it
 * was made, else NODESERVE_BENCH_PYTHON, else python3; undefined (with the reason) when none has them.
 */
async function peerPython(): Promise<{ python?: string; reason: string }> {
  const { yardstickVenvDir } = await load<{ yardstickVenvDir: (tag: string) => string }>('bench/lib/yardstick.mjs');
  const venvRoot = join(yardstickVenvDir('x'), '..');
  const venvs = existsSync(venvRoot) ? readdirSync(venvRoot).map((d) => join(venvRoot, d, 'bin', 'python')) : [];
  const candidates = [...venvs, process.env['NODESERVE_BENCH_PYTHON'], 'python3'].filter((p): p is string => p !== undefined);
  for (const python of candidates) {
    if (spawnSync(python, ['-c', 'import PIL, numpy, onnxruntime'], { stdio: 'ignore' }).status === 0) return { python, reason: '' };
  }
  return { reason: `no Python with Pillow and numpy among ${candidates.join(', ')} (npm run bench makes one under ~/.cache/nodeserve)` };
}

const TURBOJPEG = await loadTurboJpegIfAny();

describe('preprocessing against the peers\' Pillow pipeline', () => {
  // The peers' own preprocess_one (imagenet_onnx.py) computes the reference tensors in Python.
  let python: string;
  beforeAll(async () => {
    // imagenet_onnx.py imports onnxruntime at its top, so the venv has it too (the version the bench's yardstick uses).
    python = (await peerPython()).python
      ?? await pythonVenv({ name: 'python-pillow', packages: ['pillow', 'numpy', 'onnxruntime==1.30.0'], imports: 'PIL, numpy, onnxruntime', purpose: 'the preprocessing comparison' });
  }, 300_000);

  const compare = async (jpegDecoder: 'turbojpeg' | 'libvips'): Promise<any> => {
    const { comparePreprocessing } = await load<{ comparePreprocessing: (o: object) => Promise<any> }>('bench/lib/pixel-check.mjs');
    const r = await comparePreprocessing({ python, peerDir: PEER_DIR, imagesDir: IMAGES, jpegDecoder });
    expect(r).toMatchObject({ ok: true, images: 9 });
    return r;
  };

  (TURBOJPEG || process.env['CI'] === 'true' ? it : it.skip)('is Pillow\'s, bit for bit, where TurboJPEG decodes and resample.wat resizes', async () => {
    // The same libjpeg-turbo decode (accurate IDCT, fancy upsampling) and Pillow's own fixed-point
    // resample; the normalisation's float32 is the same arithmetic.
    const r = await compare('turbojpeg');
    expect(r.maxLevels).toBeLessThan(0.01);
  }, 60_000);

  it('lands within 2 of 255 levels of it with libvips decoding and resizing', async () => {
    // Same decoder (libjpeg-turbo's islow IDCT in both), same bilinear geometry: what is left is
    // libvips's and Pillow's fixed-point rounding in the reduce, measured at most 2 levels, mean 0.14.
    const r = await compare('libvips');
    expect(r.maxLevels).toBeLessThanOrEqual(2.01);
    expect(r.meanLevels).toBeLessThan(0.3);
  }, 60_000);
});

/** Whether the SDK finds libjpeg-turbo's TurboJPEG library on this host (CI installs it). */
async function loadTurboJpegIfAny(): Promise<boolean> {
  const { selectImageBackend } = await import('@nodeserve/handler-sdk');
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const backend = await selectImageBackend(quiet, 'sharp');
  return backend.jpegDecoder?.startsWith('turbojpeg') === true;
}
