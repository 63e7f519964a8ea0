import { performance } from 'node:perf_hooks';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import { sendOutcome } from './outcome.js';
import { toRequestInput } from './request-input.js';

interface PredictionParams {
  model: string;
  version?: string;
}

interface Timings {
  queueMs: number;
  inferenceMs: number;
}

/**
 * `POST|PUT /predictions/{model}[/{version}]`, as TorchServe and MMS serve it: the body (raw,
 * multipart or JSON) goes to the model's handler and its answer comes back as the response.
 */
export async function predictionRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const timings = new WeakMap<FastifyRequest, Timings>();

  const predict = async (request: FastifyRequest<{ Params: PredictionParams }>, reply: FastifyReply) => {
    const receivedAt = performance.now() - reply.elapsedTime;
    // `/predictions/m/` (a trailing slash) names no version.
    const version = request.params.version === '' ? undefined : request.params.version;
    const handle = ctx.registry.resolve(request.params.model, version);
    request.modelTarget = { model: handle.name, version: handle.version };
    const input = await toRequestInput(request, ctx.config.max_request_size);
    const outcome = await handle.submit({ input, api: 'predictions', receivedAt });
    timings.set(request, { queueMs: outcome.queueMs, inferenceMs: outcome.inferenceMs });
    return sendOutcome(reply, outcome);
  };

  for (const url of ['/predictions/:model', '/predictions/:model/:version']) {
    app.route<{ Params: PredictionParams }>({ method: ['POST', 'PUT'], url, handler: predict });
  }

  // Only requests that reached a known model are reported: unknown names must not grow the metrics' label sets.
  app.addHook('onResponse', async (request, reply) => {
    const target = request.modelTarget;
    if (target?.version === undefined) return;
    const t = timings.get(request);
    ctx.events.emit('request.finished', {
      model: target.model,
      version: target.version,
      status: reply.statusCode,
      api: 'predictions',
      queueMs: t?.queueMs ?? 0,
      inferenceMs: t?.inferenceMs ?? 0,
      totalMs: reply.elapsedTime,
    });
  });
}
