import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { ServerMetrics } from './server-metrics.js';

/** `GET /metrics` on the metrics address: Prometheus text of this server's registry. */
export async function metricsApi(app: FastifyInstance, ctx: ServerContext): Promise<ServerMetrics> {
  const metrics = new ServerMetrics(ctx.events);
  app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.render()));
  app.addHook('onClose', async () => metrics.close());
  return metrics;
}
