import type { FastifyInstance } from 'fastify';
import { openApiRoute } from '../../openapi/route.js';
import type { ServerContext } from '../../context.js';
import { managementRoutes } from './routes.js';

/** The management app's routes: `/models…` and its API description on `OPTIONS /`. */
export async function managementApi(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  await managementRoutes(app, ctx);
  await openApiRoute(app);
}

export { managementRoutes } from './routes.js';
