import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';
import type { InferenceOutcome } from '../models/types.js';

export interface RequestTimings {
  /** Remembers a request's engine timings for its `request.finished` event. */
  record(request: FastifyRequest, outcome: Pick<InferenceOutcome, 'queueMs' | 'inferenceMs'>): void;
}

/**
 * Emits `request.finished` once each answer is written, for metrics and logs. Only requests that
 * reached a known model are reported (`request.modelTarget`), so unknown names add no labels;
 * requests refused before reaching a worker report zero queue and inference time.
 */
export function reportRequestsFinished(
  app: FastifyInstance,
  ctx: ServerContext,
  api: 'predictions' | 'v1' | 'v2',
  include: (request: FastifyRequest) => boolean = () => true,
): RequestTimings {
  const timings = new WeakMap<FastifyRequest, { queueMs: number; inferenceMs: number }>();
  app.addHook('onResponse', async (request, reply) => {
    const target = request.modelTarget;
    if (target?.version === undefined || !include(request)) return;
    const t = timings.get(request);
    ctx.events.emit('request.finished', {
      model: target.model,
      version: target.version,
      status: reply.statusCode,
      api,
      queueMs: t?.queueMs ?? 0,
      inferenceMs: t?.inferenceMs ?? 0,
      totalMs: reply.elapsedTime,
    });
  });
  return { record: (request, { queueMs, inferenceMs }) => timings.set(request, { queueMs, inferenceMs }) };
}
