import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../../context.js';
import { managementRoutes } from './routes.js';

/** The management app's routes: `/models…` (its API description on `OPTIONS /` is registered once per listener). */
export async function managementApi(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  await managementRoutes(app, ctx);
}

export { managementRoutes } from './routes.js';
