#!/usr/bin/env node
/**
 * `npm run bench`: the tutorial's benchmark on this machine, next to the hardware's limit. See
 * `--help` and docs/benchmark.md. Everything in the table is measured in this one run.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runAb } from './lib/ab.mjs';
import { measureArchiveCost } from './lib/archive-cost.mjs';
import { startBareEcho } from './lib/bare-echo-process.mjs';
import { measureThroughput, sweepCeiling } from './lib/ceiling.mjs';
import { replaceResultsSection } from './lib/doc-section.mjs';
import { compareGrpcWithRest, grpcTable } from './lib/grpc-load.mjs';
import { describeHardware, hardwareLine } from './lib/hardware.mjs';
import { resolveModels } from './lib/models.mjs';
import { parseBenchOptions } from './lib/options.mjs';
import { comparePreprocessing } from './lib/pixel-check.mjs';
import { serveAndLoad, stopServerIn } from './lib/serve.mjs';
import { latencyChartSvg } from './lib/svg.mjs';
import { renderTable, resultRows } from './lib/table.mjs';
import { prepareYardstick, runYardstick } from './lib/yardstick.mjs';
import { cpuMs } from '../scripts/demo/processes.mjs';
import { labelsFile } from '../scripts/demo/weights.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BODY = join(ROOT, '../shared/images/kitten.jpg');
const HANDLER = join(ROOT, 'examples/resnet50/img_classifier_service.ts');
const ECHO_HANDLER = join(ROOT, 'bench/echo/echo_handler.ts');
const PREPROCESS = pathToFileURL(join(ROOT, 'bench/lib/preprocess.mjs')).href;

const log = (/** @type {string} */ line) => process.stderr.write(`${line}\n`);

/** @type {ReturnType<typeof parseBenchOptions>} */
let opts;
try {
  opts = parseBenchOptions(process.argv.slice(2));
} catch (err) {
  console.error(`bench: ${/** @type {Error} */ (err).message}`);
  process.exit(2);
}
if (opts.help) {
  console.log(opts.help);
  process.exit(0);
}
if (spawnSync('ab', ['-V']).status !== 0) {
  console.error('bench: ab (Apache Bench) is needed: apt-get install apache2-utils');
  process.exit(2);
}

/** Scratch directories of servers that may be running, so an interrupt can stop them. */
const scratch = new Set();
const newScratch = (/** @type {string} */ name) => {
  const dir = mkdtempSync(join(tmpdir(), `nodeserve-bench-${name}-`));
  scratch.add(dir);
  return dir;
};
const dropScratch = (/** @type {string} */ dir) => {
  scratch.delete(dir);
  rmSync(dir, { recursive: true, force: true });
};
// A failed run still removes its scratch directories (serveAndLoad has already stopped its server).
process.on('exit', () => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});
let interrupted = false;
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.on(signal, async () => {
    if (interrupted) return;
    interrupted = true;
    log(`\n${signal}: stopping the servers this run started`);
    for (const dir of scratch) await stopServerIn(ROOT, dir, log);
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

const hardware = describeHardware();
const RESULTS = join(ROOT, 'bench/results');
// Quick and profiled runs are for finding things out: they never replace the committed results.
const outDir = resolve(opts.out ?? (opts.quick || opts.profile ? join(RESULTS, 'raw') : RESULTS));
mkdirSync(outDir, { recursive: true });
log(`nodeserve bench on ${hardwareLine(hardware)}`);
log(`load: ab -k, concurrency ${opts.concurrency}, POST ../shared/images/kitten.jpg${opts.quick ? ' (--quick)' : ''}`);

const results = {
  generatedAt: new Date().toISOString(),
  hardware,
  hardwareLine: hardwareLine(hardware),
  quick: opts.quick,
  /** What the in-process rows decode JPEGs with: the handler SDK's choice on this host (the server's workers log theirs). */
  jpegDecoder: /** @type {string | undefined} */ ((await import(PREPROCESS)).jpegDecoder),
  models: /** @type {any[]} */ ([]),
  yardstick: /** @type {any} */ (undefined),
  pixels: /** @type {any} */ (undefined),
  echo: /** @type {any} */ (undefined),
  archive: /** @type {any} */ (undefined),
  grpc: /** @type {any[] | undefined} */ (undefined),
};

const PEER_DIR = join(ROOT, '../shared/peer-pipeline');
const LABELS = labelsFile(ROOT);
const yardstickEnv = opts.skip.includes('yardstick')
  ? { ok: /** @type {const} */ (false), reason: 'left out (--skip yardstick)' }
  : await prepareYardstick({ peerDir: PEER_DIR, onnxruntimeVersion: hardware.onnxruntime, log });
if (!yardstickEnv.ok) log(`yardstick unavailable: ${yardstickEnv.reason}`);
else log(`yardstick: ${PEER_DIR} with Python ${yardstickEnv.versions.python}, Pillow ${yardstickEnv.versions.pillow}, numpy ${yardstickEnv.versions.numpy}, onnxruntime ${yardstickEnv.versions.onnxruntime}`);
results.yardstick = yardstickEnv.ok ? { versions: yardstickEnv.versions } : { reason: yardstickEnv.reason };

for (const model of resolveModels(ROOT, opts.models, log)) {
  log(`\n== ${model.label}: ${model.path} (${(model.bytes / 2 ** 20).toFixed(0)} MiB)`);
  const point = (/** @type {string} */ what) => (/** @type {any} */ p) =>
    log(`    ${what} batch ${p.batch}, ${p.workers} worker(s) × ${p.threads} thread(s): ${p.imagesPerSec.toFixed(1)} img/s`);
  log('  1. ONNX Runtime alone, in process');
  const ort = await sweepCeiling({ modelPath: model.path, batches: opts.batches, durationMs: opts.sweepMs, cores: hardware.cores, onPoint: point('ort') });
  log('  1. in process with JPEG decode + preprocess (the handler SDK\'s image path)');
  const pipelineOptions = { modelPath: model.path, durationMs: opts.sweepMs, mode: /** @type {const} */ ('pipeline'), jpegPath: BODY, preprocessModule: PREPROCESS };
  const pipeline = await sweepCeiling({ ...pipelineOptions, batches: [...new Set([1, ort.best.batch])], cores: hardware.cores, onPoint: point('pipeline') });
  // The yardstick's layout: one process per core, one ONNX Runtime thread each, one image at a time.
  const layout = { workers: hardware.cores, threads: 1, batch: 1 };
  const yardstickRun = () =>
    runYardstick(yardstickEnv, { peerDir: PEER_DIR, model: model.path, labels: LABELS, image: BODY, procs: layout.workers, threads: layout.threads, seconds: opts.yardstickMs / 1000 });
  const logYardstick = (/** @type {any} */ y) =>
    log(y.ok ? `    yardstick ${y.procs} process(es) × ${y.threads} thread(s): ${y.images_per_s.toFixed(1)} img/s` : `    yardstick: ${y.reason}`);
  log('  2. the yardstick: the peers\' worker path (PIL, numpy, onnxruntime in Python processes)');
  const yardsticks = [await yardstickRun()];
  logYardstick(yardsticks[0]);
  log('  3. model-server at its defaults, with the example handler');
  const workdir = newScratch(model.id);
  const served = await serveAndLoad({
    root: ROOT,
    workdir,
    name: 'resnet50',
    handler: HANDLER,
    modelFile: model.path,
    extraFiles: [LABELS],
    body: BODY,
    requests: opts.requestsFor(model.speed),
    warmupRequests: Math.max(opts.concurrency, Math.round(opts.requestsFor(model.speed) / 10)),
    concurrency: opts.concurrency,
    profile: opts.profile,
    log,
  });
  dropScratch(workdir);
  // Both references are best cases: each is measured again after the server's load and the better
  // kept, so load from elsewhere during one measurement cannot lower the bar the server is held to.
  yardsticks.push(await yardstickRun());
  logYardstick(yardsticks[1]);
  // As long as a yardstick run, so the two references are measured alike.
  const again = await measureThroughput({ ...pipelineOptions, ...layout, durationMs: opts.yardstickMs });
  point('pipeline, again after the server run:')(again);
  pipeline.points.push(again);
  if (again.imagesPerSec > pipeline.best.imagesPerSec) pipeline.best = again;
  const atLayout = pipeline.points
    .filter((p) => p.workers === layout.workers && p.threads === layout.threads && p.batch === layout.batch)
    .reduce((a, b) => (b.imagesPerSec > a.imagesPerSec ? b : a));
  const measured = yardsticks.filter((y) => y.ok);
  const yardstick = measured.length > 0 ? measured.reduce((a, b) => (b.images_per_s > a.images_per_s ? b : a)) : yardsticks[0];
  const entry = {
    id: model.id,
    label: model.label,
    file: model.path.startsWith(ROOT) ? model.path.slice(ROOT.length + 1) : `../${model.path.split('/').slice(-3).join('/')}`,
    bytes: model.bytes,
    weights: model.weights,
    ceiling: { ort, pipeline, atLayout },
    yardstick: { best: yardstick, runs: yardsticks },
    coldStartMs: served.coldStartMs,
    coldStartPhases: served.coldStartPhases,
    server: served.server,
    ratio: served.server.requestsPerSec / pipeline.best.imagesPerSec,
  };
  results.models.push(entry);
  writeFileSync(join(outDir, `${model.id}.json`), `${JSON.stringify({ hardware, ...entry }, null, 2)}\n`);
  const vsYardstick = yardstick.ok ? `; ${(served.server.requestsPerSec / yardstick.images_per_s).toFixed(2)}× the yardstick` : '';
  log(`    → ${served.server.requestsPerSec.toFixed(1)} req/s, ${served.server.unsuccessful} failed, p99 ${served.server.latencyMs.p99} ms; ${(entry.ratio * 100).toFixed(0)} % of the in-process pipeline${vsYardstick}`);
}

if (!opts.skip.includes('pixels')) {
  log('\n== 7. preprocessing against the peers\' (Pillow bilinear, numpy) on every photo in ../shared/images');
  results.pixels = yardstickEnv.ok
    ? await comparePreprocessing({ python: yardstickEnv.python, peerDir: PEER_DIR, imagesDir: join(ROOT, '../shared/images') })
    : { ok: false, reason: yardstickEnv.reason };
  const px = results.pixels;
  log(px.ok ? `    max ${px.maxLevels.toFixed(0)} of 255 levels (${px.worstImage}), mean ${px.meanLevels.toFixed(2)} over ${px.images} photos` : `    ${px.reason}`);
}

if (!opts.skip.includes('echo')) {
  const requests = opts.requestsFor('fast');
  log(`\n== 4. request path: echo handler through model-server vs bare node:http (${requests} requests)`);
  const workdir = newScratch('echo');
  const echo = await serveAndLoad({
    root: ROOT,
    workdir,
    name: 'echo',
    handler: ECHO_HANDLER,
    body: BODY,
    requests,
    warmupRequests: Math.max(opts.concurrency, Math.round(requests / 10)),
    concurrency: opts.concurrency,
    profile: opts.profile,
    log,
  });
  dropScratch(workdir);
  const bareServer = await startBareEcho();
  let bare;
  try {
    const url = `http://127.0.0.1:${bareServer.port}/predictions/echo`;
    await runAb({ url, bodyFile: BODY, requests: Math.max(opts.concurrency, Math.round(requests / 10)), concurrency: opts.concurrency });
    const cpuBefore = cpuMs(bareServer.pid);
    bare = { ...(await runAb({ url, bodyFile: BODY, requests, concurrency: opts.concurrency })), cpuMsPerRequest: { server: 0, workers: 0 } };
    bare.cpuMsPerRequest.server = (cpuMs(bareServer.pid) - cpuBefore) / requests;
  } finally {
    await bareServer.stop();
  }
  results.echo = { server: echo.server, bare, ratio: echo.server.requestsPerSec / bare.requestsPerSec };
  log(`    → model-server ${echo.server.requestsPerSec.toFixed(0)} req/s, bare node:http ${bare.requestsPerSec.toFixed(0)} req/s`);
}

// gRPC next to REST: the same load through both front doors of one server (bench/lib/grpc-load.mjs).
if (!opts.skip.includes('grpc')) {
  const requests = opts.requestsFor('fast');
  log(`\n== gRPC ModelInfer next to REST /predictions, the same load (${requests} requests, c=${opts.concurrency})`);
  const mobilenet = opts.models.includes('mobilenet') ? resolveModels(ROOT, ['mobilenet'], log) : [];
  const served = [
    { name: 'echo', handler: ECHO_HANDLER, inputName: 'body' },
    ...mobilenet.map((m) => ({ name: 'mobilenet', handler: HANDLER, modelFile: m.path, extraFiles: [LABELS], inputName: 'image' })),
  ];
  results.grpc = [];
  for (const model of served) {
    log(`  ${model.name}:`);
    const workdir = newScratch(`grpc-${model.name}`);
    const run = await compareGrpcWithRest({ root: ROOT, workdir, body: BODY, requests, concurrency: opts.concurrency, log, ...model });
    dropScratch(workdir);
    log(`    → REST ${run.rest.requestsPerSec.toFixed(0)} req/s, gRPC ${run.grpc.requestsPerSec.toFixed(0)} req/s (${run.ratio.toFixed(2)}×)`);
    results.grpc.push(run);
  }
  writeFileSync(join(outDir, 'grpc.json'), `${JSON.stringify({ hardware, runs: results.grpc }, null, 2)}\n`);
}

if (!opts.skip.includes('archive')) {
  log('\n== 6. model-archiver on the synthetic ResNet-50 vs a plain copy (best of 3)');
  const [synthetic] = resolveModels(ROOT, ['synthetic'], log);
  if (synthetic) results.archive = await measureArchiveCost({ root: ROOT, modelPath: synthetic.path, handler: HANDLER, runs: 3 });
}

if (results.echo || results.archive || results.pixels) {
  writeFileSync(join(outDir, 'request-path.json'), `${JSON.stringify({ hardware, echo: results.echo, archive: results.archive, pixels: results.pixels }, null, 2)}\n`);
}
const table = renderTable(resultRows(results));
const series = [
  ...results.models.map((m) => ({ label: `${m.label}: ${m.server.requestsPerSec.toFixed(0)} req/s`, points: m.server.percentilesMs })),
  ...(results.echo
    ? [
        { label: `echo via model-server: ${results.echo.server.requestsPerSec.toFixed(0)} req/s`, points: results.echo.server.percentilesMs },
        { label: `bare node:http echo: ${results.echo.bare.requestsPerSec.toFixed(0)} req/s`, points: results.echo.bare.percentilesMs },
      ]
    : []),
];
writeFileSync(
  join(outDir, 'latency.svg'),
  latencyChartSvg({ title: `Latency percentiles under ab -k -c ${opts.concurrency}`, subtitle: results.hardwareLine, series }),
);
const summary = (/** @type {string} */ chart) =>
  [
    `Measured ${results.generatedAt.slice(0, 16).replace('T', ' ')} UTC on ${results.hardwareLine}, by \`npm run bench${process.argv.slice(2).length ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\`.`,
    `JPEG decoding: ${results.jpegDecoder ?? 'not the sharp backend'} in process; ${[...new Set(results.models.map((m) => m.server?.settings?.jpegDecoder ?? 'not logged'))].join(', ')} in the server's workers (their log).`,
    `Load: \`ab -k -l\` at concurrency ${opts.concurrency}, POSTing kitten.jpg (${Math.round(statSync(BODY).size / 1000)} kB) to \`/predictions/resnet50\` of model-server at its defaults, after a warm-up in rounds of a tenth as many requests until the RSS of the server and of each worker levels off (the table's growth row starts there).`,
    results.yardstick?.versions
      ? `Yardstick: \`../shared/peer-pipeline/run.py\` (Python ${results.yardstick.versions.python}, Pillow ${results.yardstick.versions.pillow}, numpy ${results.yardstick.versions.numpy}, onnxruntime ${results.yardstick.versions.onnxruntime}), one process per core × 1 thread, the same model and image, ${opts.yardstickMs / 1000} s before and after the server's load, the better kept.`
      : `Yardstick: not measured: ${results.yardstick?.reason ?? 'left out'}.`,
    '',
    table,
    '',
    `![latency percentiles](${chart})`,
    '',
    ...(results.grpc ? ['gRPC next to REST, the same load on one server (`bench/lib/grpc-load.mjs`):', '', grpcTable(results.grpc), ''] : []),
  ].join('\n');
writeFileSync(join(outDir, 'results.md'), `# Benchmark results\n\n${summary('latency.svg')}`);
console.log(table);
if (results.grpc) console.log(`\n${grpcTable(results.grpc)}`);
log(`\nwrote ${join(outDir, 'results.md')}, latency.svg and the JSON files`);
if (outDir === RESULTS) {
  for (const [file, chart] of [[join(ROOT, 'docs/benchmark.md'), '../bench/results/latency.svg'], [join(ROOT, 'README.md'), 'bench/results/latency.svg']]) {
    if (replaceResultsSection(/** @type {string} */ (file), summary(/** @type {string} */ (chart)))) log(`updated the results in ${file}`);
  }
}
