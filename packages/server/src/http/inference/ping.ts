import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../../context.js';

/**
 * `GET /ping`: 200 Healthy once the initial models are loaded and while every model has its minimum
 * of live workers (TorchServe's rule, not MMS's always-200); 500 Unhealthy otherwise.
 */
export async function pingRoute(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.get('/ping', async (_request, reply) =>
    ctx.lifecycle.ready && ctx.registry.isHealthy() ? reply.send({ status: 'Healthy' }) : reply.code(500).send({ status: 'Unhealthy' }),
  );
}
