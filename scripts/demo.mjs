#!/usr/bin/env node
/**
 * `npm run demo`: the MMS tutorial end to end on this machine. Archives examples/resnet50 with
 * model-archiver, starts model-server with the archive, classifies the sample photos with the
 * tutorial's request, prints each top-5, and stops the server — also when interrupted.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeHardware } from '../bench/lib/hardware.mjs';
import { CommandRunner } from './demo/commands.mjs';
import { assertPortsFree, readRunState, waitForFirstPrediction } from './demo/model-server.mjs';
import { parseOptions } from './demo/options.mjs';
import { formatTop5 } from './demo/predictions.mjs';
import { isAlive, killAll, processTree } from './demo/processes.mjs';
import { chooseWeights, labelsFile } from './demo/weights.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MODEL = 'resnet50';
const DEFAULT_IMAGES = ['kitten.jpg', 'Dog1.jpg', 'pelican.jpeg'].map((f) => join(ROOT, '../shared/images', f));
/** The demo must finish in well under a minute; a server that is not up by then is broken. */
const START_TIMEOUT_MS = 45_000;

const say = (/** @type {string} */ line = '') => process.stdout.write(`${line}\n`);

/** @type {ReturnType<typeof parseOptions>} */
let options;
try {
  options = parseOptions(process.argv.slice(2), process.env);
} catch (err) {
  console.error(`demo: ${/** @type {Error} */ (err).message}`);
  process.exit(2);
}
if (options.help) {
  say(options.help);
  process.exit(0);
}

const workdir = resolve(options.workdir ?? ROOT);
const shell = new CommandRunner({
  cwd: workdir,
  aliases: {
    'model-archiver': [process.execPath, join(ROOT, 'packages/archiver/dist/cli.js')],
    'model-server': [process.execPath, join(ROOT, 'packages/server/dist/cli.js')],
    tsx: [join(ROOT, 'node_modules/.bin/tsx')],
  },
});

/**
 * Whether this run has started a server that may still be running. A server that was already
 * running from the same directory before (its pid in `preexistingPid`) is never stopped by the demo.
 */
let serverStarted = false;
/** @type {number | undefined} */
let preexistingPid;
let stopping = false;

async function cleanUp() {
  await shell.stopRunning();
  if (!serverStarted) return;
  const state = readRunState(workdir);
  if (state && state.pid !== preexistingPid && isAlive(state.pid)) {
    const tree = processTree(state.pid);
    await shell.run('model-server', ['--stop'], { timeoutMs: 15_000 }).catch(() => undefined);
    await killAll(tree.filter(isAlive).reverse());
  }
}

for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    say(`\n${signal}: stopping model-server and everything the demo started`);
    cleanUp().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

try {
  await main();
} catch (err) {
  if (!stopping) {
    console.error(`\ndemo failed: ${/** @type {Error} */ (err).message}`);
    stopping = true;
    await cleanUp();
    process.exit(1);
  }
}

async function main() {
  const modelStore = join(workdir, 'model_store');
  const images = (options.images ?? DEFAULT_IMAGES).map((p) => resolve(p));
  for (const image of images) if (!existsSync(image)) throw new Error(`no such image: ${image}`);

  const ports = options.port === 0 ? [0, 0, 0] : [options.port, options.port + 1, options.port + 2];
  if (options.port !== 0) await assertPortsFree(ports);

  say('# nodeserve demo: the MMS tutorial (archive → serve → predict → stop) on this machine');
  say(`# model-archiver and model-server are this repository's CLIs (\`npx model-archiver\` inside it); to repeat`);
  say(`# these steps by hand from any directory, first:`);
  say(`$ alias model-archiver='node ${shell.show(join(ROOT, 'packages/archiver/bin/model-archiver.js'))}' model-server='node ${shell.show(join(ROOT, 'packages/server/bin/model-server.js'))}'`);
  say();

  const choice = chooseWeights(ROOT, options.weights);
  let weights;
  if ('generate' in choice) {
    weights = choice.generate;
    if (options.weights !== 'synthetic') {
      say('# No pretrained model found (examples/resnet50/model/resnet50-v1-7.onnx, ../shared/models/mobilenetv2-12-int8.onnx).');
    }
    say('# Generating a ResNet-50 with RANDOM weights: it runs like the real one, but its labels are MEANINGLESS.');
    say('# For real predictions: npx tsx examples/resnet50/scripts/download-resnet50.ts, or npm run demo -- --weights PATH');
    if (!existsSync(weights.path)) {
      const gen = await shell.run('tsx', [shell.show(join(ROOT, 'examples/resnet50/scripts/generate-synthetic-resnet50.ts'))]);
      if (gen.code !== 0) throw new Error('generating the synthetic ResNet-50 failed');
    }
  } else {
    weights = choice;
  }
  say(`# Weights: ${weights.label}`);
  if (weights.kind === 'mobilenet') {
    say('# (the real ResNet-50 is not downloaded; `npx tsx examples/resnet50/scripts/download-resnet50.ts` fetches it,');
    say('#  and the same handler then serves it: any ImageNet classifier with 224×224 inputs works)');
  }
  say();

  mkdirSync(modelStore, { recursive: true });
  say('# 1. Package the model and its handler into a model archive (.mar)');
  const archive = await shell.run('model-archiver', [
    '--model-name', MODEL,
    '--version', '1.0',
    '--serialized-file', shell.show(weights.path),
    '--handler', shell.show(join(ROOT, 'examples/resnet50/img_classifier_service.ts')),
    '--extra-files', shell.show(labelsFile(ROOT)),
    '--export-path', shell.show(modelStore),
    '--force',
  ]);
  if (archive.code !== 0) throw new Error(`model-archiver exited with ${archive.code}`);
  say();

  say('# 2. Start model-server with the archive');
  const startArgs = ['--start', '--model-store', shell.show(modelStore), '--models', `${MODEL}=${MODEL}.mar`];
  if (options.port !== 8080) {
    const config = join(workdir, options.workdir ? 'config.properties' : '.cache/demo/config.properties');
    mkdirSync(dirname(config), { recursive: true });
    writeFileSync(
      config,
      ['inference_address', 'management_address', 'metrics_address']
        .map((key, i) => `${key}=http://127.0.0.1:${ports[i]}\n`)
        // On free ports, gRPC's too: its default port may be taken as well.
        .concat(options.port === 0 ? ['grpc_inference_address=127.0.0.1:0\n'] : [])
        .join(''),
    );
    startArgs.push('--config', shell.show(config));
  }
  const before = readRunState(workdir);
  preexistingPid = before && isAlive(before.pid) ? before.pid : undefined;
  serverStarted = true;
  const started = await shell.run('model-server', startArgs, { timeoutMs: START_TIMEOUT_MS });
  if (started.code !== 0) throw new Error(`model-server --start exited with ${started.code}`);
  const { state } = await waitForFirstPrediction({
    cwd: workdir,
    model: MODEL,
    body: readFileSync(/** @type {string} */ (images[0])),
    timeoutMs: START_TIMEOUT_MS,
    isAborted: () => stopping,
  });
  say(`# model-server is up (pid ${state.pid}): inference on 127.0.0.1:${state.inference}, management on :${state.management}, metrics on :${state.metrics}`);
  say();

  say('# 3. Classify the photos, as the tutorial does');
  const hw = describeHardware();
  say(`# (on ${hw.cores} × ${hw.cpu}${hw.simd.length > 0 ? ` with ${hw.simd.join(', ')}` : ''}: the int8 kernels ONNX Runtime picks`);
  say('#  for a CPU change the probabilities, and close calls such as tabby / tiger cat may swap on another machine)');
  const haveCurl = spawnSync('curl', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!haveCurl) say('# (curl is not installed: each request below is sent with Node\'s fetch, the same POST with the photo as body)');
  for (const [i, image] of images.entries()) {
    const url = `http://127.0.0.1:${state.inference}/predictions/${MODEL}`;
    const args = ['-sS', '-X', 'POST', url, '-T', shell.show(image)];
    let body;
    if (haveCurl) {
      const res = await shell.run('curl', args, { capture: true, timeoutMs: 30_000 });
      if (res.code !== 0) throw new Error(`curl failed: ${res.stderr.trim()}`);
      body = res.stdout;
    } else {
      say(`$ curl ${args.join(' ')}`);
      const res = await fetch(url, { method: 'POST', body: readFileSync(image), signal: AbortSignal.timeout(30_000) });
      body = await res.text();
    }
    // The whole answer once, as the tutorial shows it; for the other photos only the top-5 it holds.
    say(formatTop5(body, weights.meaningfulLabels, { withJson: i === 0 }));
    say();
  }
  if (!weights.meaningfulLabels) {
    say('# Reminder: these labels come from a model with RANDOM weights; they are meaningless.');
    say();
  }

  say('# 4. Stop the server');
  const tree = processTree(state.pid);
  const stop = await shell.run('model-server', ['--stop'], { timeoutMs: 20_000 });
  await killAll(tree.filter(isAlive).reverse());
  serverStarted = false;
  if (stop.code !== 0) throw new Error(`model-server --stop exited with ${stop.code}`);
  say("# Done. `npm run bench` measures how fast this is next to MMS's and TorchServe's worker path.");
}
