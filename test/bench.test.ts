import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const KITTEN = join(ROOT, '../shared/images/kitten.jpg');
const MOBILENET = join(ROOT, '../shared/models/mobilenetv2-12-int8.onnx');

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
});
