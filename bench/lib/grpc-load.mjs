import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { readRunState as readServerRunState, runPaths } from '@nodeserve/server/run-state';
import { waitForFirstPrediction } from '../../scripts/demo/model-server.mjs';
import { cpuMs, processTree } from '../../scripts/demo/processes.mjs';
import { runAb } from './ab.mjs';
import { archiveModel, runCli, stopServerIn, writeServerConfig } from './serve.mjs';

// The server package's own gRPC libraries and proto: the load generator speaks what the server ships.
const require = createRequire(new URL('../../packages/server/package.json', import.meta.url));
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const PROTO = new URL('../../packages/server/proto/grpc_predict_v2.proto', import.meta.url).pathname;

/**
 * A bounded gRPC load generator (the role `ghz` plays for gRPC, as `ab` does for HTTP): `requests`
 * `ModelInfer` calls of one message, `concurrency` of them in flight at any time, over `connections`
 * HTTP/2 connections (the server allows 100 calls open per connection), each call with a deadline.
 * The message is serialized once and sent as those bytes every time, as ab sends one file, so the
 * generator spends its CPU on the calls rather than on protobuf. An answer counts as successful only
 * with status OK and an output as long as `expectBytes`, when given.
 *
 * @param {{ target: string, request: object, requests: number, concurrency: number, connections?: number,
 *   timeoutS?: number, expectBytes?: number }} o
 */
export async function runGrpcLoad(o) {
  const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: String, defaults: false, arrays: true, oneofs: true });
  const method = definition['inference.GRPCInferenceService'].ModelInfer;
  const message = method.requestSerialize(o.request);
  const connections = Math.max(1, o.connections ?? Math.ceil(o.concurrency / 100));
  // A channel of its own per connection: grpc-js would otherwise share one subchannel between them.
  const clients = Array.from({ length: connections }, () => new grpc.Client(o.target, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
  /** @type {number[]} */
  const latencies = [];
  let failed = 0;
  /** @type {string | undefined} */
  let firstError;
  let issued = 0;
  const timeoutMs = (o.timeoutS ?? 120) * 1000;
  const one = (/** @type {any} */ client) =>
    new Promise((resolve) => {
      const started = performance.now();
      const sent = (/** @type {Buffer} */ bytes) => bytes;
      const options = { deadline: Date.now() + timeoutMs };
      client.makeUnaryRequest(method.path, sent, method.responseDeserialize, message, options, (/** @type {any} */ error, /** @type {any} */ reply) => {
        const bytes = reply?.outputs?.[0]?.contents?.bytes_contents?.[0]?.length ?? reply?.raw_output_contents?.[0]?.length;
        if (error || (o.expectBytes !== undefined && bytes !== o.expectBytes)) {
          failed++;
          firstError ??= error ? `${grpc.status[error.code]}: ${error.details}` : `an output of ${bytes} bytes`;
        } else {
          latencies.push(performance.now() - started);
        }
        resolve(undefined);
      });
    });
  const cpuBefore = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(o.concurrency, o.requests) }, async (_, lane) => {
      const client = clients[lane % connections];
      while (issued < o.requests) {
        issued++;
        await one(client);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  for (const client of clients) client.close();
  latencies.sort((a, b) => a - b);
  const at = (/** @type {number} */ p) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] ?? Number.NaN;
  return {
    complete: latencies.length + failed,
    failed,
    unsuccessful: failed,
    firstError,
    seconds,
    requestsPerSec: latencies.length / seconds,
    latencyMs: { p50: at(50), p90: at(90), p99: at(99), max: at(100) },
    /** @type {Array<[number, number]>} */
    percentilesMs: Array.from({ length: 101 }, (_, p) => /** @type {[number, number]} */ ([p, p === 0 ? (latencies[0] ?? Number.NaN) : at(p)])),
    connections,
    /** The load generator's own CPU time per call (it runs in this process, on the same cores as the server). */
    clientCpuMsPerRequest: (cpu.user + cpu.system) / 1000 / o.requests,
    command: `ModelInfer × ${o.requests}, ${o.concurrency} in flight over ${connections} connection(s) (bench/lib/grpc-load.mjs)`,
  };
}

/**
 * The same load through both front doors of one server at its defaults (`writeServerConfig`): `ab -k`
 * POSTing `body` to `/predictions/{name}` and `ModelInfer` with `body` as the one element of the BYTES
 * input `inputName` (the classifier's `image`, the echo handler's `body`: inputs are matched by name
 * against the model's metadata), the same number of requests at the same concurrency, each after a
 * warm-up of a tenth as many. Server CPU per request is measured for each (the server process and its
 * workers), since the two clients differ: ab is C, the gRPC generator JavaScript sharing the bench's process.
 *
 * @param {{ root: string, workdir: string, name: string, handler: string, modelFile?: string, extraFiles?: string[],
 *   inputName: string, body: string, requests: number, concurrency: number, log: (line: string) => void }} o
 */
export async function compareGrpcWithRest(o) {
  const store = await archiveModel({ ...o, warmupRequests: 0, profile: false });
  const config = writeServerConfig(o);
  const body = readFileSync(o.body);
  await runCli(o.root, 'packages/server/dist/cli.js', ['--start', '--model-store', store, '--models', `${o.name}=${o.name}.mar`, '--config', config], o.workdir);
  try {
    const { state } = await waitForFirstPrediction({ cwd: o.workdir, model: o.name, body, timeoutMs: 120_000 });
    const target = readServerRunState(runPaths({ cwd: o.workdir, env: {} }))?.addresses?.grpcInference;
    if (target === undefined) throw new Error('the server reports no gRPC address');
    const url = `http://127.0.0.1:${state.inference}/predictions/${o.name}`;
    const request = { model_name: o.name, inputs: [{ name: o.inputName, datatype: 'BYTES', shape: [1], contents: { bytes_contents: [body] } }] };
    const warmup = Math.max(o.concurrency, Math.round(o.requests / 10));
    const serverCpu = async (/** @type {() => Promise<any>} */ load) => {
      const pids = processTree(state.pid);
      const before = pids.map(cpuMs);
      const result = await load();
      const used = pids.map((pid, i) => cpuMs(pid) - /** @type {number} */ (before[i]));
      return { ...result, cpuMsPerRequest: { server: (used[0] ?? 0) / o.requests, workers: used.slice(1).reduce((a, b) => a + b, 0) / o.requests } };
    };
    o.log(`    warm-up: ${warmup} requests each way`);
    await runAb({ url, bodyFile: o.body, requests: warmup, concurrency: o.concurrency });
    await runGrpcLoad({ target, request, requests: warmup, concurrency: o.concurrency });
    o.log(`    REST: ab -k -n ${o.requests} -c ${o.concurrency} POST /predictions/${o.name}`);
    const rest = await serverCpu(() => runAb({ url, bodyFile: o.body, requests: o.requests, concurrency: o.concurrency }));
    o.log(`    gRPC: ModelInfer × ${o.requests}, ${o.concurrency} in flight`);
    const grpcResult = await serverCpu(() => runGrpcLoad({ target, request, requests: o.requests, concurrency: o.concurrency, expectBytes: o.name === 'echo' ? body.length : undefined }));
    if (grpcResult.firstError !== undefined) o.log(`    gRPC failures: ${grpcResult.failed}, the first: ${grpcResult.firstError}`);
    return { model: o.name, requests: o.requests, concurrency: o.concurrency, rest, grpc: grpcResult, ratio: grpcResult.requestsPerSec / rest.requestsPerSec };
  } finally {
    await stopServerIn(o.root, o.workdir, o.log);
  }
}

/**
 * The comparison as a Markdown table: throughput, failures, latency, and CPU per request of the server
 * and of the client, gRPC next to REST for each model measured. On a machine whose cores the clients
 * share, the client's CPU counts against the throughput: read the server's CPU per request for what
 * each front door costs.
 * @param {Array<Awaited<ReturnType<typeof compareGrpcWithRest>>>} runs
 */
export function grpcTable(runs) {
  const ms = (/** @type {number} */ v) => (v < 10 ? v.toFixed(2) : v.toFixed(0));
  const rows = [
    ['front door, same load', 'throughput', 'failed', 'latency p50 / p99', 'server CPU per request: server / workers', 'client CPU per request'],
    ['---', '---', '---', '---', '---', '---'],
  ];
  for (const run of runs) {
    for (const [label, r] of /** @type {const} */ ([['REST /predictions (ab -k)', run.rest], ['gRPC ModelInfer', run.grpc]])) {
      rows.push([
        `${run.model}: ${label}`,
        `${r.requestsPerSec.toFixed(0)} req/s (${run.requests} req, c=${run.concurrency})`,
        String(r.unsuccessful),
        `${ms(r.latencyMs.p50)} / ${ms(r.latencyMs.p99)} ms`,
        `${r.cpuMsPerRequest.server.toFixed(2)} / ${r.cpuMsPerRequest.workers.toFixed(2)} ms`,
        // ab is C and its CPU is not sampled; the gRPC generator runs in the bench's own process.
        r.clientCpuMsPerRequest === undefined ? 'ab: not measured' : `${r.clientCpuMsPerRequest.toFixed(2)} ms (same cores)`,
      ]);
    }
    rows.push([`${run.model}: gRPC ÷ REST`, `${run.ratio.toFixed(2)}×`, '', '', '', '']);
  }
  return rows.map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}
