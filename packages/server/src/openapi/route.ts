import type { FastifyInstance } from 'fastify';
import { openApiDocument } from './document.js';

/** `OPTIONS /`: the OpenAPI description, as TorchServe serves it. */
export async function openApiRoute(app: FastifyInstance): Promise<void> {
  const body = JSON.stringify(openApiDocument());
  app.options('/', async (_request, reply) => reply.type('application/json').send(body));
}
