import type { Manifest, ModelConfig } from '@nodeserve/archiver';
import type { TensorDatatype } from './tensors/datatypes.js';

export type { TensorDatatype } from './tensors/datatypes.js';

export type TensorValues =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array
  | Int32Array | Uint32Array | BigInt64Array | BigUint64Array
  | boolean[] | Uint8Array[];

/** A named tensor, as the v2 protocol carries it. `BYTES` tensors hold one byte string per element. */
export interface NamedTensor {
  name: string;
  datatype: TensorDatatype;
  shape: number[];
  data: TensorValues;
  parameters?: Record<string, unknown>;
}

/**
 * One request of a batch, as the worker hands it to `handle(data, context)`.
 * Field names follow MMS/TorchServe (`data`, `body`) so ported handlers read the same.
 */
export interface RequestInput {
  /** Server-assigned id, also in the access log and the `x-request-id` response header. */
  requestId: string;
  /**
   * The payload: the raw body, or for a multipart form the bytes of its `data` (else `body`, else
   * only) field, or for a v2 request (REST or gRPC) with exactly one `BYTES` input of one element,
   * that element; empty when that input holds several (read them from `tensors`).
   */
  body: Uint8Array;
  /** The same bytes as `body`, under the name MMS handlers use. */
  data: Uint8Array;
  /** Every multipart field: files as bytes, text fields as strings. Empty for non-multipart requests. */
  form: Record<string, Uint8Array | string>;
  /** The parsed body when the request was JSON (`application/json`); `undefined` otherwise. */
  json?: unknown;
  /** Request headers, lower-case names. */
  headers: Record<string, string>;
  /** Query parameters (the last value wins when a name repeats). */
  query: Record<string, string>;
  contentType?: string;
  /** The inputs of a KServe v2 `infer` request, decoded to typed arrays. */
  tensors?: NamedTensor[];
  /** For v2 requests: the outputs the client asked for, by name, if it named any. */
  requestedOutputs?: string[];
}

/**
 * What a handler returns for one request:
 * - any JSON-serialisable value (sent as `application/json`),
 * - a `Uint8Array`/`Buffer` (sent as bytes, `application/octet-stream`),
 * - a `BytesResponse` (sent as bytes with its own content type; `bytesResponse()` builds one),
 * - a `TensorResponse` (sent as v2 outputs on the v2 API, as JSON tensors on `/predictions`),
 * - an `Error` (ideally a `HandlerError`): only this request fails, with that error's status.
 */
export type HandlerResult = unknown;

/** A handler's tensor answer; `tensorResponse()` builds one. */
export interface TensorResponse {
  readonly kind: 'tensors';
  outputs: NamedTensor[];
  parameters?: Record<string, unknown>;
}

/** Bytes with their content type (an image, audio, a CSV…); `bytesResponse()` builds one. */
export interface BytesResponse {
  readonly kind: 'bytes';
  data: Uint8Array;
  contentType: string;
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Custom metrics a handler records; the server exports them on its Prometheus endpoint. */
export interface MetricsRecorder {
  /** Adds `value` (default 1) to a counter. */
  increment(name: string, value?: number, labels?: Record<string, string>): void;
  /** Sets a gauge. */
  gauge(name: string, value: number, labels?: Record<string, string>): void;
  /** Observes a value in a histogram (milliseconds for durations). */
  observe(name: string, value: number, labels?: Record<string, string>): void;
}

export interface SystemProperties {
  /** Where the archive was extracted; the manifest's paths are relative to it. */
  modelDir: string;
  /** The GPU this worker should use, or `null` for CPU. */
  gpuId: number | null;
  batchSize: number;
  serverName: string;
  serverVersion: string;
  /**
   * A directory the server keeps for this model version outside the archive, across restarts, for
   * caches such as ONNX Runtime's optimised graph. Absent: nothing is cached.
   */
  cacheDir?: string;
}

export interface Context {
  systemProperties: SystemProperties;
  manifest: Manifest;
  modelName: string;
  modelVersion: string;
  /** The model's effective settings: archive config merged over server defaults. */
  config: ModelConfig;
  logger: Logger;
  metrics: MetricsRecorder;
}

/** The entry point an archive exports (`--handler module:function`). */
export type HandleFn = (data: RequestInput[], context: Context) => Promise<HandlerResult[]> | HandlerResult[];

/**
 * What the worker does with an archive's bundle: it imports it once, calls the module's exported
 * `initialize(context)` once if there is one, then calls the export named in the manifest
 * (default `handle`) once per batch. That export may be a function or an object with a `handle`
 * method (a handler instance); `serve(new MyHandler())` produces both exports from a class.
 */
export interface HandlerModule {
  initialize?: (context: Context) => Promise<void> | void;
  /**
   * The batch size the server forms for this handler when nothing configures one, exported by
   * handlers whose `handle` is batch-first (the SDK's `BaseHandler` and its subclasses, through
   * `serve()`). When there is no `batchSize` in the archive or `models=` and no `batch_size` at
   * registration or in config.properties, the server hands such a handler the requests already
   * waiting, up to this many, without waiting for more (unless a `max_batch_delay` is configured); a
   * configured batch size replaces it. A handler that does not export it gets one request at a time,
   * TorchServe's default. An integer from 1 to 1024.
   */
  maxBatchSize?: number;
  [exportName: string]: unknown;
}
