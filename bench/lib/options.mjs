import { parseArgs } from 'node:util';

export const HELP = `npm run bench [-- OPTIONS]

Reproduces the tutorial's benchmark (ab -k, concurrency 100, a JPEG body, POST /predictions/resnet50)
with the server at its defaults and measures, in the same run: ONNX Runtime alone and the handler
SDK's whole image path in process, the yardstick (the peers' Python worker path from
../shared/peer-pipeline, in a venv made once under ~/.cache/nodeserve), the server under load, the
preprocessing's pixel difference from Pillow's, the echo request path against bare node:http, gRPC
ModelInfer next to REST /predictions on one server, cold start, and model-archiver against a file copy.
Writes bench/results/<model>.json, request-path.json, grpc.json, results.md and latency.svg.

  --quick            a short run to try things out (1,000 requests, 200 for ResNet-50, short sweeps)
  --full             the tutorial's 10,000 requests for every model (ResNet-50 takes minutes on 2 cores)
  --requests N       requests per measured load (overrides the defaults above)
  --concurrency C    concurrent clients (default 100, as the tutorial)
  --models LIST      comma-separated, of: synthetic, resnet50, mobilenet (default: all available)
  --skip LIST        comma-separated parts to leave out: echo, archive, yardstick, pixels, grpc (gRPC next to REST)
  --profile          record a CPU profile of the server and its workers (V8's profiler) during each
                     load and print their hottest functions; profiling slows them, so results go
                     to bench/results/raw
  --out DIR          where results go (default bench/results, and bench/results/raw for --quick;
                     a run into bench/results also refreshes the tables in README.md and docs/benchmark.md)
  -h, --help         this text

Default requests: 10,000 for MobileNet v2 and the echo path, 2,000 for ResNet-50 (about a minute of
load at ~30 req/s on 2 cores; --full runs 10,000).`;

/** @param {string[]} argv */
export function parseBenchOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      full: { type: 'boolean', default: false },
      requests: { type: 'string' },
      concurrency: { type: 'string', default: '100' },
      models: { type: 'string', default: 'synthetic,resnet50,mobilenet' },
      skip: { type: 'string', default: '' },
      out: { type: 'string' },
      profile: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  const positive = (/** @type {string} */ name, /** @type {string} */ v, /** @type {number} */ max) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name} ${v}: expected an integer from 1 to ${max}`);
    return n;
  };
  if (values.quick && values.full) throw new Error('--quick and --full contradict each other');
  const requests = values.requests === undefined ? undefined : positive('requests', values.requests, 1_000_000);
  const concurrency = positive('concurrency', values.concurrency, 20_000);
  const models = values.models.split(',').filter(Boolean);
  for (const m of models) if (!['synthetic', 'resnet50', 'mobilenet'].includes(m)) throw new Error(`--models: unknown model "${m}"`);
  const skip = values.skip.split(',').filter(Boolean);
  for (const s of skip) if (!['echo', 'archive', 'yardstick', 'pixels', 'grpc'].includes(s)) throw new Error(`--skip: unknown part "${s}"`);
  /** Requests for one load: explicit, else by speed class (ResNet-50 is ~30 req/s here, the rest hundreds or more). */
  const requestsFor = (/** @type {'slow' | 'fast'} */ speed) =>
    requests ?? (values.full ? 10_000 : values.quick ? (speed === 'slow' ? 200 : 1_000) : speed === 'slow' ? 2_000 : 10_000);
  return {
    help: values.help ? HELP : undefined,
    quick: values.quick,
    profile: values.profile,
    requestsFor,
    concurrency: Math.min(concurrency, requests ?? concurrency),
    models,
    skip,
    out: values.out,
    /** Seconds per point of the in-process sweep. */
    sweepMs: values.quick ? 1_000 : 3_000,
    /** Milliseconds of each yardstick run (run.py's --seconds). */
    yardstickMs: values.quick ? 3_000 : 10_000,
    batches: values.quick ? [1, 4] : [1, 2, 4, 8],
  };
}
