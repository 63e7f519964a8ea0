import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { treeRss } from '../bench/lib/rss.mjs';
import { readRunState } from '../scripts/demo/model-server.mjs';
import { isAlive, killAll, processTree } from '../scripts/demo/processes.mjs';

const exec = promisify(execFile);

/**
 * The server under soak, driven only through what a user has: `model-archiver`, `model-server
 * --start/--stop`, the management API, `/metrics`, the logs and the processes' pids.
 *
 * Its workers' heap is capped (`--max-old-space-size`, through NODE_OPTIONS, which the server and the
 * workers it spawns inherit) so the handler that runs out of memory does so in seconds, not after
 * gigabytes; the server's own heap stays far below the cap.
 */
export const WORKER_HEAP_MB = 256;

/** The model's workers and how requests are batched: batches form under the soak's load, so a lost batch has batch-mates. */
export const SERVER_SETTINGS = {
  workers: 2,
  batchSize: 4,
  maxBatchDelayMs: 20,
  responseTimeoutS: 5,
  jobQueueSize: 500,
};

/**
 * Archives the fault-injecting handler as `soak` 1.0 and 2.0 and starts the server on free ports
 * with 1.0 loaded.
 * @param {{ root: string, dir: string, handler: string }} o
 */
export async function startSoakServer(o) {
  const store = join(o.dir, 'model_store');
  mkdirSync(store, { recursive: true });
  for (const version of ['1.0', '2.0']) {
    await exec(process.execPath, [
      join(o.root, 'packages/archiver/dist/cli.js'),
      '--model-name', 'soak', '--version', version, '--handler', o.handler, '--export-path', store, '--force',
    ], { cwd: o.root });
    renameSync(join(store, 'soak.mar'), join(store, `soak-${version}.mar`));
  }
  const s = SERVER_SETTINGS;
  writeFileSync(join(o.dir, 'config.properties'), [
    'inference_address=http://127.0.0.1:0',
    'management_address=http://127.0.0.1:0',
    'metrics_address=http://127.0.0.1:0',
    'grpc_inference_address=127.0.0.1:0',
    'model_store=model_store',
    'load_models=soak=soak-1.0.mar',
    `default_workers_per_model=${s.workers}`,
    `batch_size=${s.batchSize}`,
    `max_batch_delay=${s.maxBatchDelayMs}`,
    `default_response_timeout=${s.responseTimeoutS}`,
    `job_queue_size=${s.jobQueueSize}`,
    'enable_model_api=true',
    '',
  ].join('\n'));
  const env = { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-old-space-size=${WORKER_HEAP_MB}`.trim() };
  await exec(process.execPath, [join(o.root, 'packages/server/dist/cli.js'), '--start', '--config', 'config.properties'], { cwd: o.dir, env, timeout: 120_000 });
  const state = readRunState(o.dir);
  if (state === undefined) throw new Error(`model-server started but wrote no run state in ${o.dir}`);
  return new SoakServer(o.root, o.dir, state);
}

export class SoakServer {
  /**
   * @param {string} root
   * @param {string} dir
   * @param {{ pid: number, inference: number, management: number, metrics: number }} state
   */
  constructor(root, dir, state) {
    this.root = root;
    this.dir = dir;
    this.pid = state.pid;
    this.inference = `http://127.0.0.1:${state.inference}`;
    this.management = `http://127.0.0.1:${state.management}`;
    this.metricsUrl = `http://127.0.0.1:${state.metrics}/metrics`;
    /** Every worker pid seen, so the end can check that none outlived the server. */
    this.workerPids = new Set();
  }

  /**
   * `GET /models/soak/{version}`'s workers (pid, status, restarts), or undefined when not registered.
   * @param {string} [version]
   * @returns {Promise<Array<{ pid: number | null, status: string, restarts: number }> | undefined>}
   */
  async workers(version = '1.0') {
    const res = await fetch(`${this.management}/models/soak/${version}`, { signal: AbortSignal.timeout(10_000) });
    if (res.status === 404) return undefined;
    const [described] = /** @type {any[]} */ (await res.json());
    for (const w of described.workers) if (w.pid !== null) this.workerPids.add(w.pid);
    return described.workers;
  }

  /**
   * A management call; resolves with its status and body text.
   * @param {string} method
   * @param {string} path
   */
  async manage(method, path) {
    const res = await fetch(`${this.management}${path}`, { method, signal: AbortSignal.timeout(60_000) });
    return { status: res.status, body: await res.text() };
  }

  /** `/metrics` as text. */
  async metrics() {
    return (await fetch(this.metricsUrl, { signal: AbortSignal.timeout(10_000) })).text();
  }

  /**
   * Resident memory, in bytes, of the server process and of each worker (its children), by pid; and
   * the server's JavaScript heap in use, memory outside it (Buffers) and mark-compacts so far, from its
   * `/metrics`, to tell a growing heap from resident memory that is not given back.
   */
  async rss() {
    const { byPid } = await treeRss(this.pid);
    const workers = Object.entries(byPid).filter(([pid]) => Number(pid) !== this.pid).map(([pid, bytes]) => ({ pid: Number(pid), bytes }));
    const metrics = await this.metrics();
    return {
      server: byPid[this.pid] ?? 0,
      serverHeapUsed: counter(metrics, 'nodejs_heap_size_used_bytes'),
      serverExternal: counter(metrics, 'nodejs_external_memory_bytes'),
      // Mark-compacts so far: a heap in use that grows between them is garbage not yet collected.
      serverMajorGcs: counter(metrics, 'nodejs_gc_duration_seconds_count', { kind: 'major' }),
      workers,
    };
  }

  /** Starts `model-server --stop` (SIGTERM and a wait for the drain); resolves with its exit code once it returns. */
  stop() {
    return exec(process.execPath, [join(this.root, 'packages/server/dist/cli.js'), '--stop', '--timeout', '60'], { cwd: this.dir, timeout: 90_000 }).then(
      () => 0,
      (/** @type {{ code?: number }} */ err) => err.code ?? -1,
    );
  }

  /** Pids of the server and of any worker seen that still run this build (a pid reused since by another program does not count). */
  survivors() {
    const ours = join(this.root, 'packages/server/dist');
    return [this.pid, ...this.workerPids].filter((pid) => isAlive(pid) && commandLine(pid).includes(ours));
  }

  /** Kills whatever is left (a failed soak must not leave servers behind). */
  async kill() {
    await killAll([...new Set([...processTree(this.pid), ...this.survivors()])]);
  }

  /** The server's logs, for the exactly-once checks. */
  logs() {
    const read = (/** @type {string} */ name) => {
      try {
        return readFileSync(join(this.dir, 'logs', name), 'utf8');
      } catch {
        return '';
      }
    };
    return { access: read('access.log'), server: read('model-server.log') };
  }
}

/**
 * The value of one Prometheus counter summed over the series whose labels include `labels`.
 * @param {string} text
 * @param {string} name
 * @param {Record<string, string>} labels
 */
export function counter(text, name, labels = {}) {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelPart = line.slice(name.length).split('}')[0] ?? '';
    if (wanted.every((w) => labelPart.includes(w))) sum += Number(line.split(' ').pop());
  }
  return sum;
}

/** @param {number} pid */
function commandLine(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

