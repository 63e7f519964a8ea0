import { readFile } from 'node:fs/promises';
import { sessionOptions } from '@nodeserve/handler-sdk';
import ort from 'onnxruntime-node';

/**
 * One in-process inference loop of the ceiling measurement. Loads the model, reports ready, waits for
 * the common start signal, then runs batches until the deadline and reports how many images it
 * finished. In `pipeline` mode every image of a batch is also decoded from the JPEG and preprocessed,
 * as the server's handler does for each request.
 *
 * @type {{ modelPath: string, threads: number, batch: number, durationMs: number, mode: 'ort' | 'pipeline', jpegPath: string, preprocessModule: string }}
 */
const job = JSON.parse(process.env.CEILING_JOB ?? '{}');
if (process.send === undefined) throw new Error('ceiling-worker.mjs runs as a child of bench/lib/ceiling.mjs');
const send = process.send.bind(process);

// The session options the server's workers use, with this point's thread count.
const session = await ort.InferenceSession.create(job.modelPath, sessionOptions({ intraOpNumThreads: job.threads, interOpNumThreads: 1 }));
const inputName = /** @type {string} */ (session.inputNames[0]);
const IMAGE = 3 * 224 * 224;

/** @type {(jpeg: Uint8Array, out?: Float32Array) => Promise<Float32Array>} */
let toTensor = async () => new Float32Array(IMAGE);
/** @type {Uint8Array} */
let jpeg = new Uint8Array();
if (job.mode === 'pipeline') {
  ({ toTensor } = await import(job.preprocessModule));
  jpeg = await readFile(job.jpegPath);
}

const fixed = new Float32Array(job.batch * IMAGE).map((_, i) => ((i * 2654435761) % 1000) / 1000 - 0.5);

// The handler SDK's VisionHandler reuses a batch's array once the batch is answered; so does this loop.
const reused = job.mode === 'pipeline' ? new Float32Array(job.batch * IMAGE) : fixed;

async function runBatch() {
  let data = fixed;
  if (job.mode === 'pipeline') {
    data = reused;
    for (let i = 0; i < job.batch; i++) await toTensor(jpeg, data.subarray(i * IMAGE, (i + 1) * IMAGE));
  }
  await session.run({ [inputName]: new ort.Tensor('float32', data, [job.batch, 3, 224, 224]) });
}

// One batch before the clock starts: the first run allocates and plans, which a server does at load.
await runBatch();
send({ type: 'ready' });
process.once('message', async (/** @type {{ deadline: number }} */ msg) => {
  let images = 0;
  while (Date.now() < msg.deadline) {
    await runBatch();
    images += job.batch;
  }
  const finishedAt = Date.now();
  // Released before reporting: the parent lets this process end on its own, and kills it only if stuck.
  await session.release();
  send({ type: 'done', images, finishedAt });
  process.disconnect();
});
