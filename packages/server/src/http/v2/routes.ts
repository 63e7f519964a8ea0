import { performance } from 'node:perf_hooks';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../../context.js';
import { modelMetadata, modelReady, runInfer, serverMetadata, serverReady } from '../../open-inference/index.js';
import { installKServeErrors } from '../kserve-errors.js';
import { flattenHeaders, lastValues } from '../inference/request-input.js';
import { knownTarget } from '../model-target.js';
import { reportRequestsFinished } from '../request-finished.js';
import { decodeInferRequest, encodeInferResponse, INFERENCE_HEADER } from './codec.js';

interface ModelParams {
  model: string;
  version?: string;
}

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

  app.get('/', async () => serverMetadata(['binary_tensor_data']));
  app.get('/health/live', async () => ({ live: true }));
  app.get('/health/ready', async (_request, reply) => {
    const ready = serverReady(ctx);
    return reply.code(ready ? 200 : 503).send({ ready });
  });

  const metadata = async (request: FastifyRequest<{ Params: ModelParams }>) => modelMetadata(registry, request.params.model, request.params.version);
  app.get('/models/:model', metadata);
  app.get('/models/:model/versions/:version', metadata);

  const ready = async (request: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) => {
    const answer = modelReady(registry, request.params.model, request.params.version);
    return reply.code(answer.ready ? 200 : 503).send(answer);
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
    const context = { requestId: request.id, headers: flattenHeaders(request.headers), query: lastValues(request.query) };
    const answer = await runInfer(handle, decoded, context, {
      api: 'v2',
      receivedAt,
      maxResponseSize: ctx.config.max_response_size,
      onOutcome: (outcome) => timings.record(request, outcome),
    });
    const encoded = encodeInferResponse(answer.head, answer.outputs, decoded.wantsBinary);
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
