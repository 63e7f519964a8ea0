import { performance } from 'node:perf_hooks';
import type { RequestInput } from '@nodeserve/handler-sdk';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ExplainNotSupported, InternalServerError, ResourceNotFound } from '../../errors.js';
import type { InferenceOutcome, ModelVersionHandle } from '../../models/types.js';
import type { ServerContext } from '../../context.js';
import { toHttpError } from '../errors.js';
import { flattenHeaders, lastValues } from '../inference/request-input.js';
import { installKServeErrors, sendKServeError } from '../kserve-errors.js';
import { knownTarget } from '../model-target.js';
import { reportRequestsFinished } from '../request-finished.js';
import { decodeInstance, parsePredictBody, type DecodedInstance } from './instances.js';
import { predictionJson, predictionsBody } from './predictions.js';

/** `/v1/models/{name}:{verb}`: model names never hold a colon, so the last one starts the verb. */
function splitTarget(target: string): { model: string; verb: string } | undefined {
  const at = target.lastIndexOf(':');
  return at <= 0 ? undefined : { model: target.slice(0, at), verb: target.slice(at + 1) };
}

/**
 * KServe's v1 protocol (TF Serving's REST API with KServe's routes), registered under `/v1`, as
 * KServe's TorchServe runtime serves it:
 * - `GET /v1/models`: `{"models": [names]}`;
 * - `GET /v1/models/{name}`: `{"name", "ready"}`, 200 while the default version has live workers, 503 when not;
 * - `POST /v1/models/{name}:predict`: `{"instances": [...]}` → `{"predictions": [...]}`, one per
 *   instance, in order. Each instance is its own request in the model's queue, batched with any other
 *   traffic, answered as `/predictions` would answer it (`instances.ts` says how an instance becomes a body).
 *   If any instance fails, the whole request answers the failure of the first failing instance (lowest
 *   index), with its status, as KServe answers a failed predict: never a 200 missing an answer;
 * - `POST /v1/models/{name}:explain`: 501 `ExplainNotSupported`.
 * Every error is `{"error": "…"}`. The default version serves: v1 has no versions.
 */
export async function v1Routes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const { registry } = ctx;
  const predicts = new WeakSet<FastifyRequest>();
  const timings = reportRequestsFinished(app, ctx, 'v1', (request) => predicts.has(request));

  // The body is JSON, whatever its declared type (KServe reads it as JSON too): read it whole here.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: ctx.config.max_request_size }, (_req, body, done) => done(null, body));
  installKServeErrors(app, ctx.logger, { maxRequestSize: ctx.config.max_request_size }, 'v1');

  app.get('/models', async () => ({ models: registry.list().map((m) => m.name) }));

  app.get<{ Params: { model: string } }>('/models/:model', async (request, reply) => {
    const handle = registry.resolve(request.params.model);
    const ready = handle.isReady();
    return reply.code(ready ? 200 : 503).send({ name: handle.name, ready });
  });

  const predict = async (request: FastifyRequest, reply: FastifyReply, handle: ModelVersionHandle) => {
    // Queue time starts once the body is read: a slow upload is not time spent waiting for a worker.
    const receivedAt = performance.now();
    request.modelTarget = { model: handle.name, version: handle.version };
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    // Every instance is decoded before any is queued: a bad one refuses the request with nothing run.
    const instances = parsePredictBody(body).map(decodeInstance);
    const headers = flattenHeaders(request.headers);
    delete headers['content-length'];
    const query = lastValues(request.query);
    const settled = await Promise.allSettled(
      instances.map((instance, index) => handle.submit({ input: instanceInput(request.id, index, instance, headers, query), api: 'v1', receivedAt })),
    );
    const answered = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    timings.record(request, slowest(answered));
    const failedAt = settled.findIndex((s) => s.status === 'rejected');
    if (failedAt >= 0) {
      const { reason } = settled[failedAt] as PromiseRejectedResult;
      const http = toHttpError(reason, { maxRequestSize: ctx.config.max_request_size });
      if (http.body.type === InternalServerError.code) {
        ctx.logger.error('unexpected error answering a v1 instance', { requestId: request.id, url: request.url, instance: failedAt, error: reason });
      }
      return sendKServeError(reply, http, `Instance ${failedAt}: ${http.body.message}`);
    }
    return reply.code(200).type('application/json').send(predictionsBody(answered.map(predictionJson)));
  };

  app.post<{ Params: { target: string } }>('/models/:target', {
    // Named before the body is read, so a predict refused while reading it (413) still counts for its model.
    onRequest: async (request) => {
      const target = splitTarget(request.params.target);
      if (target?.verb !== 'predict') return;
      predicts.add(request);
      request.modelTarget = knownTarget(registry, target.model, undefined);
    },
    handler: async (request, reply) => {
      const target = splitTarget(request.params.target);
      const path = request.url.split('?', 1)[0] ?? '';
      if (target === undefined || (target.verb !== 'predict' && target.verb !== 'explain')) throw new ResourceNotFound(request.method, path);
      const handle = registry.resolve(target.model);
      if (target.verb === 'explain') throw new ExplainNotSupported(handle.name);
      return predict(request, reply, handle);
    },
  });
}

/** KServe's v1 liveness, `GET /` (what its Python client's `is_server_live` asks): `{"status": "alive"}` while the server answers. */
export async function v1LivenessRoute(app: FastifyInstance): Promise<void> {
  app.get('/', async () => ({ status: 'alive' }));
}

/**
 * One instance as a request of its own: an id of the HTTP request's id and the instance's index (in
 * the handler's and the server's logs), the request's headers and query (so `?topk=3` applies to
 * every instance), and the instance's own body and content type.
 */
function instanceInput(
  requestId: string,
  index: number,
  instance: DecodedInstance,
  headers: Record<string, string>,
  query: Record<string, string>,
): RequestInput {
  return {
    requestId: `${requestId}#${index}`,
    body: instance.body,
    data: instance.body,
    form: {},
    headers: { ...headers, 'content-type': instance.contentType },
    query,
    contentType: instance.contentType,
  };
}

/** The request waited as long as its slowest instance: the largest queue and inference times. */
function slowest(outcomes: InferenceOutcome[]): { queueMs: number; inferenceMs: number } {
  return {
    queueMs: Math.max(0, ...outcomes.map((o) => o.queueMs)),
    inferenceMs: Math.max(0, ...outcomes.map((o) => o.inferenceMs)),
  };
}
