import { performance } from 'node:perf_hooks';
import type { NamedTensor, RequestInput } from '@nodeserve/handler-sdk';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BadRequest, ModelNotReady } from '../../errors.js';
import type { InferenceOutcome, ModelVersionHandle } from '../../models/types.js';
import { SERVER_NAME, SERVER_VERSION } from '../../version.js';
import type { ServerContext } from '../../context.js';
import { installKServeErrors } from '../kserve-errors.js';
import { flattenHeaders, lastValues } from '../inference/request-input.js';
import { knownTarget } from '../model-target.js';
import { reportRequestsFinished } from '../request-finished.js';
import { decodeInferRequest, encodeInferResponse, INFERENCE_HEADER } from './codec.js';
import { checkInputs, checkOutputs, checkRequestedOutputs } from './model-contract.js';
import { checkResponseSize } from '../response-size.js';
import type { V2Parameters } from './schemas.js';

interface ModelParams {
  model: string;
  version?: string;
}

/** The output a JSON or bytes answer becomes on the v2 API (a handler that returns tensors names its own). */
export const DEFAULT_OUTPUT_NAME = 'output';

/**
 * The Open Inference Protocol (KServe v2) over REST, registered under `/v2`. Readiness is real: a
 * model is ready only while it has its live workers. Every error is the protocol's `{"error"}`.
 */
export async function v2Routes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const { registry } = ctx;
  const timings = reportRequestsFinished(app, ctx, 'v2', (request) => request.url.includes('/infer'));

  // The infer body is JSON, or JSON followed by binary tensors: read it whole and decode it here.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: ctx.config.max_request_size }, (_req, body, done) => done(null, body));

  installKServeErrors(app, ctx.logger, { maxRequestSize: ctx.config.max_request_size }, 'v2');

  app.get('/', async () => ({ name: SERVER_NAME, version: SERVER_VERSION, extensions: ['binary_tensor_data'] }));
  app.get('/health/live', async () => ({ live: true }));
  app.get('/health/ready', async (_request, reply) => {
    // As /ping: not ready while the initial models load, nor once draining.
    const ready = ctx.lifecycle.ready && !ctx.lifecycle.draining && registry.isHealthy();
    return reply.code(ready ? 200 : 503).send({ ready });
  });

  const metadata = async (request: FastifyRequest<{ Params: ModelParams }>) => {
    const handle = registry.resolve(request.params.model, request.params.version);
    const described = handle.metadata;
    if (described === undefined) throw new ModelNotReady(handle.name, 'its metadata is known once a worker has loaded it');
    const versions = registry.list().find((m) => m.name === handle.name)?.versions.map((v) => v.version) ?? [handle.version];
    return {
      name: handle.name,
      versions,
      platform: described.platform ?? 'onnxruntime_onnx',
      inputs: described.inputs,
      outputs: described.outputs,
    };
  };
  app.get('/models/:model', metadata);
  app.get('/models/:model/versions/:version', metadata);

  const ready = async (request: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) => {
    const handle = registry.resolve(request.params.model, request.params.version);
    const isReady = handle.isReady();
    return reply.code(isReady ? 200 : 503).send({ name: handle.name, ready: isReady });
  };
  app.get('/models/:model/ready', ready);
  app.get('/models/:model/versions/:version/ready', ready);

  const infer = async (request: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) => {
    // Queue time starts once the body is read: a slow upload is not time spent waiting for a worker.
    const receivedAt = performance.now();
    const handle = registry.resolve(request.params.model, request.params.version);
    request.modelTarget = { model: handle.name, version: handle.version };
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const headerLength = request.headers[INFERENCE_HEADER];
    const decoded = decodeInferRequest(body, Array.isArray(headerLength) ? headerLength[0] : headerLength);
    checkInputs(handle, decoded.tensors);
    checkRequestedOutputs(handle, decoded.requestedOutputs);
    const outcome = await handle.submit({ input: toRequestInput(request, decoded.tensors, decoded.requestedOutputs), api: 'v2', receivedAt });
    timings.record(request, outcome);
    checkResponseSize(handle.name, outcome, ctx.config.max_response_size);
    const answered = outcomeTensors(outcome);
    checkOutputs(handle, answered);
    const encoded = encodeInferResponse(
      {
        model_name: handle.name,
        model_version: handle.version,
        id: decoded.request.id,
        parameters: outcome.kind === 'tensors' ? protocolParameters(outcome.parameters) : undefined,
      },
      selectOutputs(answered, decoded.requestedOutputs, handle),
      decoded.wantsBinary,
    );
    if (encoded.headerLength !== undefined) reply.header('inference-header-content-length', String(encoded.headerLength));
    return reply.code(200).type(encoded.contentType).send(encoded.body);
  };
  // Named before the body is read, so a request refused while reading it (413) still counts for its model.
  const onRequest = async (request: FastifyRequest<{ Params: ModelParams }>) => {
    request.modelTarget = knownTarget(registry, request.params.model, request.params.version);
  };
  app.post('/models/:model/infer', { onRequest }, infer);
  app.post('/models/:model/versions/:version/infer', { onRequest }, infer);
}

/**
 * The handler sees a v2 request as it sees `/predictions`: when there is exactly one BYTES input of
 * exactly one element, that element is `body` (an image sent as BYTES goes through the same
 * preprocessing), and every input is in `tensors` for handlers that take raw tensors. A BYTES input
 * of several elements leaves `body` empty, so a handler that reads only `body` fails rather than
 * answer for the first element alone.
 */
function toRequestInput(request: FastifyRequest, tensors: NamedTensor[], requestedOutputs: string[] | undefined): RequestInput {
  const bytesInputs = tensors.filter((t) => t.datatype === 'BYTES');
  const only = bytesInputs.length === 1 && bytesInputs[0]!.data.length === 1 ? bytesInputs[0]! : undefined;
  // The tensor's own element, not a copy: the worker channel sends it once for both places.
  const body = (only?.data[0] as Uint8Array | undefined) ?? new Uint8Array(0);
  return {
    requestId: request.id,
    body,
    data: body,
    form: {},
    headers: flattenHeaders(request.headers),
    query: lastValues(request.query),
    tensors,
    ...(requestedOutputs === undefined ? {} : { requestedOutputs }),
  };
}

/** A JSON or bytes answer becomes one BYTES output named `output` holding it (JSON as its text). */
function outcomeTensors(outcome: InferenceOutcome): NamedTensor[] {
  if (outcome.kind === 'tensors') return outcome.outputs;
  return [{ name: DEFAULT_OUTPUT_NAME, datatype: 'BYTES', shape: [1], data: [outcome.body] }];
}

function selectOutputs(outputs: NamedTensor[], requested: string[] | undefined, handle: ModelVersionHandle): NamedTensor[] {
  if (requested === undefined) return outputs;
  return requested.map((name) => {
    const found = outputs.find((o) => o.name === name);
    if (found === undefined) {
      throw new BadRequest(`Model "${handle.name}" has no output "${name}"; it returns ${outputs.map((o) => `"${o.name}"`).join(', ')}`);
    }
    return found;
  });
}

/** The protocol allows only string, number and boolean parameter values. */
function protocolParameters(parameters: Record<string, unknown> | undefined): V2Parameters | undefined {
  if (parameters === undefined) return undefined;
  const out: V2Parameters = {};
  for (const [k, v] of Object.entries(parameters)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
