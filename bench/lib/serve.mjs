import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readRunState, waitForFirstPrediction } from '../../scripts/demo/model-server.mjs';
import { cpuMs, isAlive, killAll, processTree } from '../../scripts/demo/processes.mjs';
import { runAb } from './ab.mjs';
import { summarizeProfiles } from './profile.mjs';
import { sampleRss, treeRss } from './rss.mjs';

/**
 * One model served by model-server under the tutorial's load, everything through the CLIs a user
 * runs: `model-archiver` packs the handler and model, `model-server --start` serves them from a
 * scratch directory on free ports, `ab` loads them, `model-server --stop` ends it.
 *
 * @typedef {{ root: string, workdir: string, name: string, handler: string, modelFile?: string, extraFiles?: string[],
 *   body: string, requests: number, warmupRequests: number, concurrency: number, profile?: boolean, log: (line: string) => void }} ServeOptions
 */

/**
 * Packs the model as a user would, with no `--config-file`: workers, threads and batching are the
 * server's defaults, the ones it ships with.
 * @param {ServeOptions} o
 */
export async function archiveModel(o) {
  const store = join(o.workdir, 'model_store');
  mkdirSync(store, { recursive: true });
  const args = ['--model-name', o.name, '--version', '1.0', '--handler', o.handler, '--export-path', store, '--force'];
  if (o.modelFile) args.push('--serialized-file', o.modelFile);
  if (o.extraFiles?.length) args.push('--extra-files', o.extraFiles.join(','));
  await runCli(o.root, 'packages/archiver/dist/cli.js', args, o.root);
  return store;
}

/**
 * The server's config.properties in `o.workdir`: every address on a free port of 127.0.0.1 (the gRPC
 * service's too) and nothing else, so the server runs at its defaults; returns its path.
 * @param {{ workdir: string }} o
 */
export function writeServerConfig(o) {
  const config = join(o.workdir, 'config.properties');
  writeFileSync(
    config,
    [
      'inference_address=http://127.0.0.1:0',
      'management_address=http://127.0.0.1:0',
      'metrics_address=http://127.0.0.1:0',
      'grpc_inference_address=127.0.0.1:0',
      '',
    ].join('\n'),
  );
  return config;
}

/**
 * Starts the server at its defaults (`writeServerConfig`), times the cold start (spawn of `--start` →
 * first 200), warms up, then runs the measured load while sampling the RSS of the server and its
 * workers; stops the server in any case.
 * @param {ServeOptions} o
 */
export async function serveAndLoad(o) {
  const store = await archiveModel(o);
  const config = writeServerConfig(o);
  const body = readFileSync(o.body);
  const t0 = Date.now();
  const profileDir = join(o.workdir, 'profiles');
  // The profiler reaches the server and its workers through the environment they inherit.
  const preload = fileURLToPath(new URL('./cpu-profile-preload.cjs', import.meta.url));
  const env = o.profile
    ? { ...process.env, NODESERVE_PROFILE_DIR: profileDir, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${preload}`.trim() }
    : process.env;
  const start = runCli(o.root, 'packages/server/dist/cli.js', ['--start', '--model-store', store, '--models', `${o.name}=${o.name}.mar`, '--config', config], o.workdir, env);
  /** @type {number[]} */
  let pids = [];
  /** @type {Error | undefined} */
  let startError;
  start.catch((/** @type {Error} */ err) => (startError = err));
  try {
    const ready = await waitForFirstPrediction({ cwd: o.workdir, model: o.name, body, timeoutMs: 120_000, isAborted: () => startError !== undefined }).catch(
      (err) => {
        throw startError ?? err;
      },
    );
    const { state, at } = ready;
    const serverPid = state.pid;
    const coldStartMs = at - t0;
    const coldStartPhases = startPhases(join(o.workdir, 'logs', 'model-server.log'), t0);
    await start;
    const url = `http://127.0.0.1:${state.inference}/predictions/${o.name}`;
    o.log(`    cold start ${coldStartMs} ms; warm-up: rounds of ${o.warmupRequests} requests until the RSS levels off`);
    const warmup = await warmUp(url, serverPid, o);
    o.log(`    warm-up: ${warmup.rounds} round(s), RSS ${warmup.rssMiB.map((m) => m.toFixed(0)).join(' → ')} MiB`);
    const settings = await servedSettings(state.management, o.name, join(o.workdir, 'logs', 'model-server.log'));
    o.log(`    the server's defaults: ${describeSettings(settings)}`);
    const before = await scrapeBatchSize(state.metrics, o.name);
    if (o.profile) for (const pid of processTree(serverPid)) process.kill(pid, 'SIGUSR2');
    const rss = sampleRss(serverPid);
    const afterWarmupBytes = await rss.mark('afterWarmup');
    o.log(`    measured: ab -k -n ${o.requests} -c ${o.concurrency}`);
    const loaded = processTree(serverPid);
    const cpuBefore = loaded.map(cpuMs);
    const ab = await runAb({ url, bodyFile: o.body, requests: o.requests, concurrency: o.concurrency });
    const cpuUsed = loaded.map((pid, i) => cpuMs(pid) - /** @type {number} */ (cpuBefore[i]));
    const endBytes = await rss.mark('end');
    pids = processTree(serverPid);
    const processes = pids.length;
    const sampled = await rss.stop();
    const after = await scrapeBatchSize(state.metrics, o.name);
    const meanBatchSize =
      before && after && after.count > before.count ? (after.sum - before.sum) / (after.count - before.count) : null;
    return {
      coldStartMs,
      coldStartPhases,
      server: {
        ...ab,
        warmup,
        requests: o.requests,
        concurrency: o.concurrency,
        meanBatchSize,
        /** CPU time per request over the measured load: where the two cores went. */
        cpuMsPerRequest: {
          server: (cpuUsed[0] ?? 0) / o.requests,
          workers: cpuUsed.slice(1).reduce((a, b) => a + b, 0) / o.requests,
        },
        rss: {
          peakBytes: sampled.peakBytes,
          /** Levels (medians) of the first and last tenth of the measured load: see sampleRss. */
          afterWarmupBytes: sampled.levels.start.bytes,
          endBytes: sampled.levels.end.bytes,
          growth: sampled.levels.end.bytes / sampled.levels.start.bytes - 1,
          /** The single samples just before and just after the measured load. */
          instant: { afterWarmupBytes, endBytes },
          processes,
          /** Per process, server first: RSS levels after warm-up and at the end. */
          byProcess: pids.map((pid, i) => ({
            pid,
            role: i === 0 ? 'server' : 'worker',
            afterWarmupBytes: sampled.levels.start.byPid[pid] ?? 0,
            endBytes: sampled.levels.end.byPid[pid] ?? 0,
          })),
        },
        settings,
      },
    };
  } finally {
    await start.catch(() => undefined);
    await stopServerIn(o.root, o.workdir, o.log);
    if (o.profile) await reportProfiles(profileDir, pids, o.log);
  }
}

/** A warm-up round that grows no process's RSS by this much or more counts as levelled off. */
const WARM_GROWTH = 0.02;
const MAX_WARM_ROUNDS = 10;

/**
 * Warms the server up in rounds of `warmupRequests` until a round grows the RSS of the server and of
 * each worker by less than 2 % (at most ten rounds). Each process on its own: the front end's heap
 * fills towards its old-generation size (`--initial-old-space-size=128`, docs/server.md) before its
 * first mark-compact (128 MiB is ~1,200 of the 111 kB bodies that outlive the young generation in
 * the queue), which is warm-up, not a leak, and is lost in the total beside two ~400 MiB ResNet-50
 * workers. The measured load is meant to show
 * growth beyond that.
 * @param {string} url
 * @param {number} serverPid
 * @param {ServeOptions} o
 */
async function warmUp(url, serverPid, o) {
  const samples = [await treeRss(serverPid)];
  let rounds = 0;
  while (rounds < MAX_WARM_ROUNDS) {
    await runAb({ url, bodyFile: o.body, requests: o.warmupRequests, concurrency: o.concurrency });
    rounds++;
    samples.push(await treeRss(serverPid));
    const [before, after] = /** @type {[Awaited<ReturnType<typeof treeRss>>, Awaited<ReturnType<typeof treeRss>>]} */ (samples.slice(-2));
    // A worker replaced during the round has a new pid, so it is compared from its next round on.
    const grew = Object.entries(after.byPid).some(([pid, bytes]) => {
      const was = before.byPid[Number(pid)];
      return was === undefined || bytes >= was * (1 + WARM_GROWTH);
    });
    if (rounds > 1 && !grew) break;
  }
  return { rounds, requests: rounds * o.warmupRequests, rssMiB: samples.map((s) => s.bytes / 2 ** 20) };
}

/**
 * Prints the hottest functions of each profiled process: the server (the first pid), its workers,
 * and the short-lived `--start` command.
 * @param {string} dir
 * @param {number[]} pids the server's process tree, server first
 * @param {(line: string) => void} log
 */
async function reportProfiles(dir, pids, log) {
  for (const summary of await summarizeProfiles(dir)) {
    const pid = Number(summary.file.split('.')[1]);
    const role = pid === pids[0] ? 'server' : pids.includes(pid) ? 'worker' : 'model-server --start';
    log(`    profile of the ${role} (pid ${pid}, ${summary.seconds.toFixed(1)} s), self time:`);
    for (const t of summary.top) log(`      ${(t.share * 100).toFixed(1).padStart(5)} %  ${t.fn}`);
  }
}

/**
 * `model-server --stop` for the server started in `workdir`, then waits for its whole process tree to
 * end; anything still alive after 10 s is reported and killed, so no run leaves a process behind.
 * @param {string} root
 * @param {string} workdir
 * @param {(line: string) => void} log
 */
export async function stopServerIn(root, workdir, log) {
  const state = readRunState(workdir);
  const tree = state ? processTree(state.pid) : [];
  if (tree.length === 0) return;
  await runCli(root, 'packages/server/dist/cli.js', ['--stop'], workdir).catch((err) => log(`    --stop: ${err.message}`));
  const deadline = Date.now() + 10_000;
  while (tree.some(isAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const left = tree.filter(isAlive);
  if (left.length > 0) {
    log(`    ${left.length} server process(es) still alive 10 s after --stop; killing them`);
    await killAll(left.reverse());
  }
}

/** Server log messages that mark the steps of a cold start, in the order they happen. */
const START_STEPS = /** @type {Array<[string, RegExp]>} */ ([
  ['listening', /^listening$/],
  ['worker session created', /^ONNX Runtime session/],
  ['worker started', /^worker started$/],
  ['model ready', /^model ready$/],
]);

/**
 * Where the cold start went: milliseconds from spawning `--start` to each step the server logged
 * (its log is JSON lines with ISO times on the same clock).
 * @param {string} logFile
 * @param {number} t0
 * @returns {Record<string, number>}
 */
export function startPhases(logFile, t0) {
  /** @type {Record<string, number>} */
  const phases = {};
  let text = '';
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return phases;
  }
  for (const line of text.split('\n')) {
    let entry;
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    for (const [name, re] of START_STEPS) {
      if (phases[name] === undefined && re.test(entry.msg)) phases[name] = Date.parse(entry.time) - t0;
    }
  }
  return phases;
}

/**
 * The `ts_batch_size` histogram's sum and count for one model, from the metrics endpoint.
 * @param {number} port
 * @param {string} model
 */
export async function scrapeBatchSize(port, model) {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const value = (/** @type {string} */ series) => {
      const re = new RegExp(`^ts_batch_size_${series}\\{[^}]*model_name="${model.replace(/[.]/g, '\\.')}"[^}]*\\}\\s+([\\d.e+-]+)`, 'm');
      const m = re.exec(text);
      return m ? Number(m[1]) : undefined;
    };
    const sum = value('sum');
    const count = value('count');
    return sum === undefined || count === undefined ? undefined : { sum, count };
  } catch {
    return undefined;
  }
}

/**
 * The layout the server chose for the model: workers, batch size and delay from the management API
 * (`GET /models/{name}`), ONNX Runtime's threads from the worker's session log line.
 * @param {number} port management port
 * @param {string} model
 * @param {string} logFile
 * @returns {Promise<{ workers: number, intraOpThreads: number | null, batchSize: number, maxBatchDelayMs: number }>}
 */
export async function servedSettings(port, model, logFile) {
  const [described] = await (await fetch(`http://127.0.0.1:${port}/models/${model}`)).json();
  let intraOpThreads = null;
  /** @type {string | null} what the workers decode JPEGs with (the handler SDK's log line), null for other handlers */
  let jpegDecoder = null;
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    const session = line.includes('ONNX Runtime session runs on');
    if (!session && !line.includes('"image preprocessing ready"')) continue;
    try {
      const entry = JSON.parse(line);
      if (session) intraOpThreads = entry.intraOpNumThreads ?? intraOpThreads;
      else jpegDecoder = entry.jpegDecoder ?? jpegDecoder;
    } catch {
      // A line cut short while the server was writing it.
    }
  }
  return { workers: described.workers.length, intraOpThreads, batchSize: described.batchSize, maxBatchDelayMs: described.maxBatchDelay, jpegDecoder };
}

/** @param {Awaited<ReturnType<typeof servedSettings>>} s */
export function describeSettings(s) {
  const threads = s.intraOpThreads === null ? ' (no ONNX Runtime session)' : ` × ${s.intraOpThreads} ONNX Runtime thread(s)`;
  const jpeg = s.jpegDecoder ? `, JPEGs decoded by ${s.jpegDecoder}` : '';
  return `${s.workers} worker(s)${threads}, batch_size ${s.batchSize}, max_batch_delay ${s.maxBatchDelayMs} ms${jpeg}`;
}

/**
 * Runs one of the repository's CLIs to completion; rejects with its output when it fails.
 * @param {string} root
 * @param {string} cli path of the built CLI, relative to the root
 * @param {string[]} args
 * @param {string} cwd
 * @param {NodeJS.ProcessEnv} [env]
 */
export function runCli(root, cli, args, cwd, env = process.env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, cli), ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`${cli} ${args.join(' ')} exited with ${code}:\n${output.slice(-2000)}`))));
  });
}
