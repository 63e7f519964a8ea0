import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../../context.js';
import { registerBodyParsers } from './body.js';
import { pingRoute } from './ping.js';
import { predictionRoutes } from './predictions.js';

/** The inference API's own routes: `/ping` and `/predictions`. */
export async function inferenceApi(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  await registerBodyParsers(app, ctx.config.max_request_size);
  await pingRoute(app, ctx);
  await predictionRoutes(app, ctx);
}
