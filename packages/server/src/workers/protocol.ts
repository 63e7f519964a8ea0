import type { Manifest, ModelConfig } from '@nodeserve/archiver';
import type {
  BytesResponse, ModelDescription, NamedTensor, RequestInput, TensorDatatype, TensorResponse, TensorValues,
} from '@nodeserve/handler-sdk';
import { HandlerError, InvalidInput } from '@nodeserve/handler-sdk/errors';
import type { InferenceResult } from '../batching/job.js';
import { InvalidHandlerOutput } from '../errors.js';
import { type Frame, type PayloadBuilder, type SegmentTable, FrameError, segment } from './frames.js';

/**
 * The wire format between the server and a worker process, both directions: the messages (frame
 * headers, see `frames.ts`) and the encoding and decoding of everything they carry: requests,
 * results, errors and tensors. The server encodes requests and decodes results; the worker
 * (`worker-main.ts`) does the reverse. No runtime import of the handler SDK: the server loads this.
 */

export interface WorkerInit {
  modelName: string;
  modelVersion: string;
  modelDir: string;
  /** The model version's cache directory, outside the archive (e.g. ONNX Runtime's optimised graph). */
  cacheDir: string;
  /** Absolute path of the archive's handler bundle. */
  bundlePath: string;
  exportName: string;
  manifest: Manifest;
  config: ModelConfig;
  gpuId: number | null;
  batchSize: number;
  /**
   * Present when no batch size is configured: if the handler exports `maxBatchSize`, its context's
   * `batchSize` is that and its config's `maxBatchDelay` this one, as the server will batch (it
   * learns the number from `ready`).
   */
  handlerBatching?: { maxBatchDelay: number };
  serverName: string;
  serverVersion: string;
  /** How often the worker reports its memory, in milliseconds. */
  memoryReportMs: number;
}

export interface WireError {
  code?: string;
  status?: number;
  type: string;
  message: string;
  stack?: string;
}

type TypedArrayName =
  | 'Float32Array' | 'Float64Array' | 'Int8Array' | 'Uint8Array' | 'Int16Array' | 'Uint16Array'
  | 'Int32Array' | 'Uint32Array' | 'BigInt64Array' | 'BigUint64Array';

export interface WireTensor {
  name: string;
  datatype: TensorDatatype;
  shape: number[];
  parameters?: Record<string, unknown>;
  data:
    | { typed: TypedArrayName; seg: number }
    | { bool: number }
    | { bytes: number[] };
}

export interface WireRequest {
  requestId: string;
  body: number;
  headers: Record<string, string>;
  query: Record<string, string>;
  contentType?: string;
  /**
   * The body is JSON for the handler's `json`: the worker parses it from the body bytes, so parsing
   * (and a large document) costs the worker, never the server's event loop or the frame header.
   */
  parseJson?: true;
  form: Array<[name: string, value: { seg: number } | { text: string }]>;
  tensors?: WireTensor[];
  requestedOutputs?: string[];
}

export type WireResult =
  | { kind: 'json'; seg: number }
  | { kind: 'bytes'; seg: number; contentType: string }
  | { kind: 'tensors'; outputs: WireTensor[]; parameters?: Record<string, unknown> }
  | { kind: 'error'; error: WireError };

export type ToWorker =
  | { type: 'init'; init: WorkerInit }
  | { type: 'batch'; batchId: number; requests: WireRequest[]; segments: SegmentTable }
  /** Finish nothing new and exit: sent only to an idle worker. */
  | { type: 'stop' };

export type FromWorker =
  /** Initialised: the handler's `describe()`, and its `maxBatchSize` export when it has a valid one. */
  | { type: 'ready'; metadata?: ModelDescription; maxBatchSize?: number }
  | { type: 'initFailed'; error: WireError }
  | { type: 'results'; batchId: number; handlerMs: number; results: WireResult[]; segments: SegmentTable }
  | { type: 'batchFailed'; batchId: number; handlerMs: number; error: WireError }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; message: string; fields?: Record<string, unknown> }
  | { type: 'metric'; kind: 'counter' | 'gauge' | 'histogram'; name: string; value: number; labels: Record<string, string> }
  | { type: 'memory'; rssBytes: number }
  /** An uncaught error is about to end the worker. */
  | { type: 'fatal'; error: WireError };

const TYPED_ARRAYS = {
  Float32Array, Float64Array, Int8Array, Uint8Array, Int16Array, Uint16Array,
  Int32Array, Uint32Array, BigInt64Array, BigUint64Array,
} as const;

function typedArrayName(data: TensorValues): TypedArrayName | undefined {
  for (const [name, ctor] of Object.entries(TYPED_ARRAYS)) {
    if (data instanceof ctor) return name as TypedArrayName;
  }
  return undefined;
}

function asBuffer(view: ArrayBufferView): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

export function encodeTensor(tensor: NamedTensor, payload: PayloadBuilder): WireTensor {
  const { name, datatype, shape, parameters } = tensor;
  const head = parameters === undefined ? { name, datatype, shape } : { name, datatype, shape, parameters };
  const { data } = tensor;
  if (Array.isArray(data)) {
    if (datatype === 'BOOL') {
      return { ...head, data: { bool: payload.add(Uint8Array.from(data as boolean[], (b) => (b ? 1 : 0))) } };
    }
    return { ...head, data: { bytes: (data as Uint8Array[]).map((item) => payload.add(item)) } };
  }
  const typed = typedArrayName(data);
  if (typed === undefined) throw new FrameError(`tensor "${name}" holds data of an unsupported type`);
  return { ...head, data: { typed, seg: payload.add(asBuffer(data)) } };
}

export function decodeTensor(wire: WireTensor, frame: Frame<unknown>): NamedTensor {
  const { name, datatype, shape, parameters } = wire;
  let data: TensorValues;
  if ('bool' in wire.data) {
    data = Array.from(segment(frame, wire.data.bool), (b) => b !== 0);
  } else if ('bytes' in wire.data) {
    data = wire.data.bytes.map((index) => segment(frame, index));
  } else {
    const ctor = TYPED_ARRAYS[wire.data.typed];
    if (ctor === undefined) throw new FrameError(`tensor "${name}" names an unknown array type`);
    const bytes = segment(frame, wire.data.seg);
    const width = ctor.BYTES_PER_ELEMENT;
    // A typed array needs an aligned offset; a frame gathered from one socket chunk may not give one.
    const source = bytes.byteOffset % width === 0 ? bytes : Buffer.from(bytes);
    data = new ctor(source.buffer as ArrayBuffer, source.byteOffset, source.byteLength / width);
  }
  const out: NamedTensor = { name, datatype, shape, data };
  if (parameters !== undefined) out.parameters = parameters;
  return out;
}

const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]*\+)?json$/i;

/** `application/json` or any `+json` type, parameters such as `charset` aside. */
export function isJsonContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const semicolon = contentType.indexOf(';');
  return JSON_MEDIA_TYPE.test((semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim());
}

/**
 * A request as a frame header plus payload segments. `parseJson` asks the worker to parse a JSON body
 * (the `/predictions` API); v2 requests arrive already decoded into tensors.
 */
export function encodeRequest(input: RequestInput, payload: PayloadBuilder, parseJson: boolean): WireRequest {
  const wire: WireRequest = {
    requestId: input.requestId,
    body: payload.add(input.body),
    headers: input.headers,
    query: input.query,
    form: Object.entries(input.form).map(([name, value]) => [
      name,
      typeof value === 'string' ? { text: value } : { seg: payload.add(value) },
    ]),
  };
  if (input.contentType !== undefined) wire.contentType = input.contentType;
  if (parseJson && isJsonContentType(input.contentType)) wire.parseJson = true;
  if (input.tensors !== undefined) wire.tensors = input.tensors.map((t) => encodeTensor(t, payload));
  if (input.requestedOutputs !== undefined) wire.requestedOutputs = input.requestedOutputs;
  return wire;
}

/** A request as the worker hands it to the handler, or the answer refusing it before the handler runs. */
export type DecodedRequest = { input: RequestInput } | { refused: WireResult };

/**
 * The worker's side of `encodeRequest`: bodies, form fields and tensors as views into the frame (no
 * copy). A body flagged `parseJson` is parsed into `json`; one that is not JSON is refused with
 * `InvalidInput` (400), failing only its own request.
 */
export function decodeRequest(wire: WireRequest, frame: Frame<unknown>): DecodedRequest {
  const body = segment(frame, wire.body);
  const form: Record<string, Uint8Array | string> = {};
  for (const [name, value] of wire.form) form[name] = 'text' in value ? value.text : segment(frame, value.seg);
  const input: RequestInput = {
    requestId: wire.requestId,
    body,
    data: body,
    form,
    headers: wire.headers,
    query: wire.query,
  };
  if (wire.contentType !== undefined) input.contentType = wire.contentType;
  if (wire.tensors !== undefined) input.tensors = wire.tensors.map((t) => decodeTensor(t, frame));
  if (wire.requestedOutputs !== undefined) input.requestedOutputs = wire.requestedOutputs;
  if (wire.parseJson) {
    try {
      input.json = JSON.parse(body.toString('utf8')) as unknown;
    } catch (error) {
      const refusal = new InvalidInput(`Request body is not valid JSON: ${(error as Error).message}`);
      return { refused: { kind: 'error', error: toWireError(refusal, { stack: false }) } };
    }
  }
  return { input };
}

/**
 * One slot of a handler's results, as the worker recognised it with the SDK's guards
 * (`isBytesResponse`, `isTensorResponse`); a bare `Uint8Array` arrives as bytes of
 * `application/octet-stream`.
 */
export type HandlerAnswer =
  | { kind: 'error'; error: Error }
  | BytesResponse
  | TensorResponse
  | { kind: 'json'; value: unknown };

/** A content type the server can send as a header: visible ASCII, bounded. */
const CONTENT_TYPE = /^[\x21-\x7e][\x20-\x7e]{0,254}$/;

/**
 * A handler's answer as a wire result. One that cannot be sent (a content type that is no header
 * value, a value JSON cannot write, a tensor of an unknown array type) becomes that request's
 * `InvalidHandlerOutput` error, so the rest of the batch still gets its answers.
 */
export function encodeResult(answer: HandlerAnswer, payload: PayloadBuilder): WireResult {
  try {
    switch (answer.kind) {
      case 'error':
        return { kind: 'error', error: toWireError(answer.error) };
      case 'bytes':
        if (!CONTENT_TYPE.test(answer.contentType)) {
          throw new TypeError(`content type ${JSON.stringify(answer.contentType).slice(0, 300)} is not a valid header value`);
        }
        return { kind: 'bytes', seg: payload.add(answer.data), contentType: answer.contentType };
      case 'tensors': {
        const outputs = answer.outputs.map((t) => encodeTensor(t, payload));
        return answer.parameters === undefined ? { kind: 'tensors', outputs } : { kind: 'tensors', outputs, parameters: answer.parameters };
      }
      case 'json':
        return { kind: 'json', seg: payload.add(Buffer.from(JSON.stringify(answer.value) ?? 'null')) };
    }
  } catch (error) {
    const invalid = new InvalidHandlerOutput(`the handler's result could not be sent: ${(error as Error).message}`);
    return { kind: 'error', error: toWireError(invalid, { stack: false }) };
  }
}

/** The server's side of `encodeResult`: bodies and tensors as views into the results frame. */
export function decodeResult(result: WireResult, frame: Frame<unknown>): InferenceResult | Extract<WireResult, { kind: 'error' }> {
  switch (result.kind) {
    case 'json':
      return { kind: 'json', body: segment(frame, result.seg) };
    case 'bytes':
      return { kind: 'bytes', body: segment(frame, result.seg), contentType: result.contentType };
    case 'tensors': {
      const decoded: InferenceResult = { kind: 'tensors', outputs: result.outputs.map((t) => decodeTensor(t, frame)) };
      if (result.parameters !== undefined) decoded.parameters = result.parameters;
      return decoded;
    }
    case 'error':
      return result;
  }
}

/**
 * A handler's failure as the server answers it: the code and status the handler gave (one of the
 * SDK's catalogue, or its own), else `HandlerError` 500; the message, never the stack.
 */
export function fromWireError(wire: WireError): HandlerError {
  return new HandlerError(wire.message, { code: wire.code ?? HandlerError.name, status: wire.status ?? 500 });
}

/** What crosses the process boundary of an error: its code and status if it has them, never more than the message to clients. */
export function toWireError(error: unknown, options: { stack?: boolean } = {}): WireError {
  if (error instanceof Error) {
    const { code, status } = error as Error & { code?: unknown; status?: unknown };
    const wire: WireError = { type: error.name, message: error.message };
    if (typeof code === 'string') wire.code = code;
    if (typeof status === 'number' && Number.isInteger(status) && status >= 400 && status <= 599) wire.status = status;
    if (error.stack !== undefined && options.stack !== false) wire.stack = error.stack;
    return wire;
  }
  return { type: 'Error', message: `non-Error value thrown: ${String(error)}` };
}
