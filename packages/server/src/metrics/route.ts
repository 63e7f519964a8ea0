import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { ServerMetrics } from './server-metrics.js';

/**
 * `GET /metrics` on the metrics address: Prometheus text of this server's registry; `?name[]=a&name[]=b`
 * selects metrics by name, as TorchServe's metrics API does.
 */
export async function metricsApi(app: FastifyInstance, ctx: ServerContext): Promise<ServerMetrics> {
  const metrics = new ServerMetrics(ctx.events, {
    systemMetrics: !ctx.config.disable_system_metrics,
    workerStartedAt: (model, version, workerId) => {
      try {
        const started = ctx.registry.resolve(model, version).workers().find((w) => w.id === workerId)?.startedAt;
        return started === undefined ? undefined : Date.parse(started);
      } catch {
        return undefined;
      }
    },
  });
  app.get<{ Querystring: Record<string, string | string[] | undefined> }>('/metrics', async (request, reply) => {
    const wanted = request.query['name[]'] ?? request.query['name'];
    const names = wanted === undefined ? undefined : Array.isArray(wanted) ? wanted : [wanted];
    return reply.type(metrics.contentType).send(await metrics.render(names));
  });
  app.addHook('onClose', async () => metrics.close());
  return metrics;
}
