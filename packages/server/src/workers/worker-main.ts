import { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import {
  type Context, type HandleFn, type HandlerModule, type Logger, type MetricsRecorder, type ModelDescription,
  createContext, isBytesResponse, isTensorResponse,
} from '@nodeserve/handler-sdk';
import { MODEL_LIMITS } from '@nodeserve/archiver/manifest';
import { InvalidHandlerOutput } from '../errors.js';
import { registerExternalResolution } from './external-resolution.js';
import { type Frame, FrameReader, PayloadBuilder, writeFrame } from './frames.js';
import {
  type FromWorker, type HandlerAnswer, type ToWorker, type WireError, type WireResult, type WorkerInit,
  decodeRequest, encodeResult, toWireError,
} from './protocol.js';

/**
 * A model worker: one process per worker, started by the server with its channel on fd 3. It imports
 * the archive's handler bundle once, calls `initialize(context)` once, then runs one batch at a time.
 */

const CHANNEL_FD = 3;
const channel = new Socket({ fd: CHANNEL_FD, readable: true, writable: true });

function send(message: FromWorker, payload?: PayloadBuilder): void {
  writeFrame(channel, message, payload);
}

function exitAfterFlush(code: number, message?: FromWorker): void {
  if (message !== undefined) send(message);
  channel.end(() => process.exit(code));
  // The server may already be gone; never linger because a write cannot complete.
  setTimeout(() => process.exit(code), 1000).unref();
}

process.on('uncaughtException', (error) => {
  process.stderr.write(`uncaught error, the worker exits: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  exitAfterFlush(1, { type: 'fatal', error: toWireError(error) });
});

// The server closing the channel (it exited or gave up on this worker) ends the worker: no orphans.
channel.on('end', () => process.exit(0));
channel.on('error', () => process.exit(1));

function toFields(fields: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (fields === undefined) return undefined;
  try {
    return JSON.parse(JSON.stringify(fields)) as Record<string, unknown>;
  } catch {
    return { unserialisableFields: true };
  }
}

const logger: Logger = {
  debug: (message, fields) => send({ type: 'log', level: 'debug', message: String(message), fields: toFields(fields) }),
  info: (message, fields) => send({ type: 'log', level: 'info', message: String(message), fields: toFields(fields) }),
  warn: (message, fields) => send({ type: 'log', level: 'warn', message: String(message), fields: toFields(fields) }),
  error: (message, fields) => send({ type: 'log', level: 'error', message: String(message), fields: toFields(fields) }),
};

function metric(kind: 'counter' | 'gauge' | 'histogram', name: string, value: number, labels: Record<string, string> = {}): void {
  if (typeof name !== 'string' || !Number.isFinite(value)) return;
  send({ type: 'metric', kind, name, value, labels });
}

const metrics: MetricsRecorder = {
  increment: (name, value = 1, labels) => metric('counter', name, value, labels),
  gauge: (name, value, labels) => metric('gauge', name, value, labels),
  observe: (name, value, labels) => metric('histogram', name, value, labels),
};

let handle: HandleFn | undefined;
let context: Context | undefined;

function entryFunction(module: HandlerModule, exportName: string, bundlePath: string): HandleFn {
  const entry = module[exportName];
  if (typeof entry === 'function') return entry as HandleFn;
  if (typeof entry === 'object' && entry !== null && typeof (entry as { handle?: unknown }).handle === 'function') {
    const instance = entry as { handle: HandleFn };
    return (data, ctx) => instance.handle(data, ctx);
  }
  throw new TypeError(
    `the handler bundle ${bundlePath} has no export "${exportName}" that is a function or an object with a handle() method`,
  );
}

/**
 * The handler's `maxBatchSize`: the module's export, else the property of an exported handler
 * instance (`--handler file:instance`). Anything but an integer within the batch-size limits is a
 * broken handler, refused at load rather than guessed at.
 */
function handlerMaxBatchSize(module: HandlerModule, exportName: string, bundlePath: string): number | undefined {
  const entry = module[exportName];
  const declared = module.maxBatchSize ?? (typeof entry === 'object' && entry !== null ? (entry as { maxBatchSize?: unknown }).maxBatchSize : undefined);
  if (declared === undefined) return undefined;
  const { min, max } = MODEL_LIMITS.batchSize;
  if (typeof declared !== 'number' || !Number.isInteger(declared) || declared < min || declared > max) {
    throw new TypeError(`the handler bundle ${bundlePath} exports maxBatchSize ${JSON.stringify(declared)}: expected an integer from ${min} to ${max}`);
  }
  return declared;
}

async function initialize(init: WorkerInit): Promise<void> {
  registerExternalResolution(import.meta.url);
  const module = (await import(pathToFileURL(init.bundlePath).href)) as HandlerModule;
  handle = entryFunction(module, init.exportName, init.bundlePath);
  // Read only when the server would use it: with a batch size configured, the export plays no part.
  let batching: { batchSize: number; maxBatchDelay: number } | undefined;
  if (init.handlerBatching !== undefined) {
    const batchSize = handlerMaxBatchSize(module, init.exportName, init.bundlePath);
    if (batchSize !== undefined) batching = { batchSize, maxBatchDelay: init.handlerBatching.maxBatchDelay };
  }
  context = {
    ...createContext({
      modelDir: init.modelDir,
      cacheDir: init.cacheDir,
      manifest: init.manifest,
      // Every worker's context says what the server does, also those started before it learned the handler's batch size.
      config: batching === undefined ? init.config : { ...init.config, ...batching },
      gpuId: init.gpuId,
      batchSize: batching?.batchSize ?? init.batchSize,
      serverName: init.serverName,
      serverVersion: init.serverVersion,
      logger,
      metrics,
    }),
    // The name it is served under: registration may override the archive's.
    modelName: init.modelName,
  };
  if (typeof module.initialize === 'function') await module.initialize(context);
  const describe = module['describe'];
  // The module's `describe` is the SDK's (`serve()`, `BaseHandler`) or written to its type.
  const metadata = typeof describe === 'function' ? ((await describe(context)) as ModelDescription | undefined) : undefined;
  const reportMemory = (): void => send({ type: 'memory', rssBytes: process.memoryUsage.rss() });
  setInterval(reportMemory, init.memoryReportMs).unref();
  send({ type: 'ready', ...(metadata === undefined ? {} : { metadata }), ...(batching === undefined ? {} : { maxBatchSize: batching.batchSize }) });
  reportMemory();
}

/** Recognises one slot of the handler's results with the SDK's guards, for `encodeResult`. */
function recognise(value: unknown): HandlerAnswer {
  if (value instanceof Error) return { kind: 'error', error: value };
  if (value instanceof Uint8Array) return { kind: 'bytes', data: value, contentType: 'application/octet-stream' };
  if (isBytesResponse(value) || isTensorResponse(value)) return value;
  return { kind: 'json', value };
}

async function runBatch(frame: Frame<Extract<ToWorker, { type: 'batch' }>>): Promise<void> {
  const { batchId, requests } = frame.header;
  const decoded = requests.map((wire) => decodeRequest(wire, frame));
  const inputs = decoded.flatMap((item) => ('input' in item ? [item.input] : []));
  const started = performance.now();
  // The handler's failure is every handled request's; requests refused before it keep their own answer.
  const fail = (error: WireError, handlerMs: number): void => {
    if (inputs.length === decoded.length) {
      send({ type: 'batchFailed', batchId, handlerMs, error });
      return;
    }
    const results = decoded.map((item): WireResult => ('refused' in item ? item.refused : { kind: 'error', error }));
    send({ type: 'results', batchId, handlerMs, results, segments: [] });
  };
  let results: unknown = [];
  if (inputs.length > 0) {
    try {
      results = await handle!(inputs, context!);
    } catch (error) {
      fail(toWireError(error), performance.now() - started);
      return;
    }
  }
  const handlerMs = performance.now() - started;
  if (!Array.isArray(results) || results.length !== inputs.length) {
    const got = Array.isArray(results) ? `${results.length} results` : `a ${results === null ? 'null' : typeof results} instead of an array`;
    fail(toWireError(new InvalidHandlerOutput(
      `the handler returned ${got} for a batch of ${inputs.length} requests: expected ${inputs.length}, one per request, in order`,
    ), { stack: false }), handlerMs);
    return;
  }
  const payload = new PayloadBuilder();
  let next = 0;
  const encoded = decoded.map((item) => ('refused' in item ? item.refused : encodeResult(recognise(results[next++]), payload)));
  send({ type: 'results', batchId, handlerMs, results: encoded, segments: payload.segments }, payload);
}

// Frames are handled one after another: the server sends a batch only to an idle worker.
let work: Promise<void> = Promise.resolve();
const reader = new FrameReader<ToWorker>((frame) => {
  const message = frame.header;
  work = work.then(async () => {
    switch (message.type) {
      case 'init':
        try {
          await initialize(message.init);
        } catch (error) {
          exitAfterFlush(1, { type: 'initFailed', error: toWireError(error) });
        }
        return;
      case 'batch':
        return runBatch(frame as Frame<typeof message>);
      case 'stop':
        exitAfterFlush(0);
        return;
    }
  });
});
channel.on('data', (chunk: Buffer) => reader.push(chunk));
