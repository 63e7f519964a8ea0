import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Metadata, type handleUnaryCall, type sendUnaryData, type ServerUnaryCall, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { bearerMatches } from '../auth/hook.js';
import type { ServerContext } from '../context.js';
import { BadRequest, HandlerTimeout, ServerDraining, Unauthorized } from '../errors.js';
import { CLIENT_REQUEST_ID } from '../http/app.js';
import { logError } from '../http/errors.js';
import type { AccessLog } from '../logging/index.js';
import { modelMetadata, modelReady, runInfer, serverMetadata, serverReady } from '../open-inference/index.js';
import { decodeModelInferRequest, encodeModelInferResponse } from './infer-codec.js';
import type { ModelInferRequest, ModelInferResponse, ModelMetadataResponse, ModelRef } from './messages.js';
import { MalformedMessage } from './proto.js';
import { toGrpcFailure } from './status.js';

export interface InferenceServiceOptions {
  ctx: ServerContext;
  accessLog: AccessLog;
  /** The inference key every call but the health probes must carry while token authorization is on. */
  inferenceKey: string | undefined;
  /** Bytes of each reply as serialized (filled by the service definition), for the access log. */
  responseSizes: WeakMap<object, number>;
}

/** Liveness and readiness stay open without a key, as REST's `/v2/health/*`: orchestrators probe them. */
const PUBLIC_METHODS: ReadonlySet<string> = new Set(['ServerLive', 'ServerReady']);

/** nginx's status for a request the client gave up on: what metrics and the access log record for a cancelled call. */
const CLIENT_CLOSED_REQUEST = 499;

/** What the access log and metrics learn about a call while it runs. */
interface CallRecord {
  requestId: string;
  /** Set once the call names a model version the server holds: only those calls are counted in metrics. */
  target?: { model: string; version: string };
  timings?: { queueMs: number; inferenceMs: number };
}

type Work<Req, Res> = (request: Req, call: ServerUnaryCall<Req, Res>, record: CallRecord) => Promise<Res>;

/** Thrown where a call has already ended (its deadline passed or its client left) to skip the rest of its work. */
class CallEnded extends Error {}

/**
 * `inference.GRPCInferenceService`'s six methods on the serving path REST uses: the same registry,
 * queues, batching and workers (`handle.submit`), the same request checks and tensor encodings
 * (`open-inference/`), the same token, metrics (`request.finished`, api `grpc`) and access log. Every
 * call gets one answer; errors are catalogue errors mapped to gRPC status codes in `status.ts`.
 */
export function inferenceServiceHandlers(options: InferenceServiceOptions): UntypedServiceImplementation {
  const { ctx } = options;
  const { registry } = ctx;
  const unary = unaryCalls(options);

  const infer: Work<ModelInferRequest, ModelInferResponse> = async (message, call, record) => {
    // Queue time starts here, once the whole message has arrived, as REST's starts once the body is read.
    const receivedAt = performance.now();
    const handle = registry.resolve(required(message.model_name, 'model_name'), optional(message.model_version));
    record.target = { model: handle.name, version: handle.version };
    const decoded = decodeModelInferRequest(message, ctx.config.max_request_size);
    // A call whose deadline passed while it was decoded is not queued: nobody would read its answer.
    if (call.cancelled) throw new CallEnded();
    const context = { requestId: record.requestId, headers: metadataHeaders(call.metadata), query: {} };
    const answer = await runInfer(handle, decoded, context, {
      api: 'grpc',
      receivedAt,
      maxResponseSize: ctx.config.max_response_size,
      onOutcome: (outcome) => (record.timings = outcome),
    });
    return encodeModelInferResponse(answer.head, answer.outputs, decoded.rawOutputs);
  };

  return {
    ServerLive: unary('ServerLive', async () => ({ live: true })),
    ServerReady: unary('ServerReady', async () => ({ ready: serverReady(ctx) })),
    ModelReady: unary('ModelReady', async (request: ModelRef) => ({
      ready: modelReady(registry, required(request.name, 'name'), optional(request.version)).ready,
    })),
    // The binary tensor data extension is REST's: gRPC carries raw tensors natively.
    ServerMetadata: unary('ServerMetadata', async () => serverMetadata([])),
    ModelMetadata: unary('ModelMetadata', async (request: ModelRef): Promise<ModelMetadataResponse> =>
      modelMetadata(registry, required(request.name, 'name'), optional(request.version)),
    ),
    ModelInfer: unary('ModelInfer', infer),
  };
}

/** Wraps each method: draining, token, malformed messages, then one answer, logged and counted. */
function unaryCalls({ ctx, accessLog, inferenceKey, responseSizes }: InferenceServiceOptions) {
  return function unary<Req, Res extends object>(method: string, work: Work<Req, Res>): handleUnaryCall<Req | MalformedMessage, Res> {
    return (call: ServerUnaryCall<Req | MalformedMessage, Res>, callback: sendUnaryData<Res>) => {
      const started = performance.now();
      const given = call.metadata.get('x-request-id')[0];
      const record: CallRecord = { requestId: typeof given === 'string' && CLIENT_REQUEST_ID.test(given) ? given : randomUUID() };

      const run = async (): Promise<Res> => {
        if (ctx.lifecycle.draining) throw new ServerDraining();
        if (inferenceKey !== undefined && !PUBLIC_METHODS.has(method)) {
          const authorization = call.metadata.get('authorization')[0];
          if (!bearerMatches(typeof authorization === 'string' ? authorization : undefined, inferenceKey)) throw new Unauthorized();
        }
        const request = call.request;
        if (request instanceof MalformedMessage) throw new BadRequest(`The ${method} request is not a valid protobuf message: ${request.reason}`);
        return work(request, call as ServerUnaryCall<Req, Res>, record);
      };

      const finish = (error: unknown, response?: Res) => {
        let status: number;
        let bytes = 0;
        if (call.cancelled) {
          // The client already has its answer (DEADLINE_EXCEEDED from grpc-js, or it cancelled): record what happened.
          status = deadlinePassed(call) ? HandlerTimeout.status : CLIENT_CLOSED_REQUEST;
        } else {
          const head = new Metadata();
          head.set('x-request-id', record.requestId);
          call.sendMetadata(head);
          if (error === undefined && response !== undefined) {
            callback(null, response);
            status = 200;
            bytes = responseSizes.get(response) ?? 0;
          } else {
            const failure = toGrpcFailure(error, { maxRequestSize: ctx.config.max_request_size });
            logError(ctx.logger, { requestId: record.requestId, method: `gRPC ${method}` }, failure.http, error);
            callback({ code: failure.code, details: failure.details, metadata: failure.metadata });
            status = failure.http.status;
          }
        }
        const ms = performance.now() - started;
        accessLog.record({
          time: new Date(),
          remote: peerHost(call.getPeer()),
          method: 'GRPC',
          url: call.getPath(),
          status,
          bytes,
          ms,
          ...(record.target === undefined ? {} : { model: record.target.model, version: record.target.version }),
          requestId: record.requestId,
        });
        if (record.target !== undefined) {
          ctx.events.emit('request.finished', {
            ...record.target,
            status,
            api: 'grpc',
            queueMs: record.timings?.queueMs ?? 0,
            inferenceMs: record.timings?.inferenceMs ?? 0,
            totalMs: ms,
          });
        }
      };

      run().then(
        (response) => finish(undefined, response),
        (error: unknown) => finish(error),
      );
    };
  };
}

/** A required string field of the request; proto3 cannot tell an empty string from an absent one. */
function required(value: string | undefined, field: string): string {
  if (value === undefined || value === '') throw new BadRequest(`${field} is required`);
  return value;
}

/** An optional version: empty means the model's default version, as KServe's servers read it. */
function optional(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** The call's text metadata as the handler's `headers` (binary `-bin` entries are left out). */
function metadataHeaders(metadata: Metadata): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata.getMap())) if (typeof value === 'string') headers[name] = value;
  return headers;
}

function deadlinePassed(call: ServerUnaryCall<unknown, unknown>): boolean {
  const deadline = call.getDeadline();
  return (deadline instanceof Date ? deadline.getTime() : deadline) <= Date.now();
}

/** `127.0.0.1:50312` or `[::1]:50312` → the address alone, as REST's access log writes it. */
function peerHost(peer: string): string {
  return peer.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
}
