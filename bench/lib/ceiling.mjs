import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const WORKER = fileURLToPath(new URL('./ceiling-worker.mjs', import.meta.url));
/** The server's workers run with this flag (`WORKER_INITIAL_OLD_SPACE_MB`, models/registry.ts); so do these. */
const WORKER_EXEC_ARGV = ['--initial-old-space-size=64'];

/**
 * Images per second that ONNX Runtime reaches on the model file alone, with no server: `workers`
 * processes, each with its own session of `threads` intra-op threads, all running batches of
 * `batch` images for `durationMs`. Processes, not worker threads, because the server's workers and
 * the yardstick's are processes, while threads of one process share its libuv pool and V8's GC
 * helper threads: two processes ran the MobileNet image path 1.18–1.22× as fast as two threads
 * (three alternating 10-s runs, 2 vCPUs). Counts only batches finished, and divides by the time
 * until the last worker stopped, so a batch that runs past the deadline is paid for.
 *
 * @param {{ modelPath: string, workers: number, threads: number, batch: number, durationMs: number, mode?: 'ort' | 'pipeline', jpegPath?: string, preprocessModule?: string }} o
 */
export async function measureThroughput(o) {
  const workers = Array.from(
    { length: o.workers },
    () =>
      fork(WORKER, [], {
        execArgv: WORKER_EXEC_ARGV,
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        env: {
          ...process.env,
          // As the server sizes its workers' libuv pool (model-version.ts, workerEnvironment).
          UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? String(o.threads),
          CEILING_JOB: JSON.stringify({
            modelPath: o.modelPath,
            threads: o.threads,
            batch: o.batch,
            durationMs: o.durationMs,
            mode: o.mode ?? 'ort',
            jpegPath: o.jpegPath ?? '',
            preprocessModule: o.preprocessModule ?? '',
          }),
        },
      }),
  );
  const exited = workers.map((w) => new Promise((resolve) => w.once('exit', resolve)));
  try {
    await Promise.all(workers.map((w) => nextMessage(w, 'ready')));
    const start = Date.now();
    const done = workers.map((w) => nextMessage(w, 'done'));
    for (const w of workers) w.send({ deadline: start + o.durationMs });
    const results = await Promise.all(done);
    const images = results.reduce((n, r) => n + r.images, 0);
    const seconds = (Math.max(...results.map((r) => r.finishedAt)) - start) / 1000;
    return { imagesPerSec: images / seconds, images, seconds, workers: o.workers, threads: o.threads, batch: o.batch };
  } finally {
    // Workers end by themselves once their session is released; only a stuck one is killed.
    const timeout = new Promise((resolve) => setTimeout(resolve, 10_000).unref());
    await Promise.race([Promise.all(exited), timeout]);
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
  }
}

/**
 * The ceiling sweep: both ways of using two cores (one session with both threads, or one session per
 * core) at each batch size; returns every point, batch 1 at its best layout, and the best overall.
 *
 * @param {{ modelPath: string, batches: number[], durationMs: number, cores: number, mode?: 'ort' | 'pipeline', jpegPath?: string, preprocessModule?: string, onPoint?: (p: Awaited<ReturnType<typeof measureThroughput>>) => void }} o
 */
export async function sweepCeiling(o) {
  const layouts = [{ workers: 1, threads: o.cores }];
  if (o.cores > 1) layouts.push({ workers: o.cores, threads: 1 });
  const points = [];
  for (const batch of o.batches) {
    for (const layout of layouts) {
      const point = await measureThroughput({ ...o, ...layout, batch });
      o.onPoint?.(point);
      points.push(point);
    }
  }
  const best = (/** @type {typeof points} */ list) =>
    list.reduce((a, b) => (b.imagesPerSec > a.imagesPerSec ? b : a));
  return { points, batch1: best(points.filter((p) => p.batch === 1)), best: best(points) };
}

/**
 * @param {import('node:child_process').ChildProcess} worker
 * @param {string} type
 * @returns {Promise<any>}
 */
function nextMessage(worker, type) {
  return new Promise((resolve, reject) => {
    const onMessage = (/** @type {any} */ msg) => {
      if (msg?.type !== type) return;
      worker.off('message', onMessage);
      worker.off('error', reject);
      resolve(msg);
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
    worker.once('exit', (code, signal) => reject(new Error(`ceiling worker exited with ${signal ?? code} before "${type}"`)));
  });
}
