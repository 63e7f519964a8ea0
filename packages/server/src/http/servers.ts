import type { FastifyInstance } from 'fastify';
import type { AccessLog } from '../logging/index.js';
import { createApp } from './app.js';
import { connectionLimits } from './connection-limits.js';
import { answerExpectContinue } from './expect-continue.js';
import type { ServerContext } from '../context.js';
import { installTokenAuth } from '../auth/index.js';
import { metricsApi } from '../metrics/index.js';
import { openApiRoute } from '../openapi/index.js';
import { inferenceApi } from './inference/index.js';
import { managementApi } from './management/index.js';
import { v2Routes } from './v2/index.js';

export interface HttpApps {
  inference: FastifyInstance;
  management: FastifyInstance;
  metrics: FastifyInstance;
}

/**
 * The composition of the three HTTP apps: each API's routes are registered here, as one encapsulated
 * plugin per line, so an API's hooks and body parsers never leak into another's.
 */
export async function createHttpApps(ctx: ServerContext, accessLog: AccessLog): Promise<HttpApps> {
  const base = { bodyLimit: ctx.config.max_request_size, logger: ctx.logger, accessLog, lifecycle: ctx.lifecycle, limits: connectionLimits(ctx.config) };
  const inference = createApp({ ...base, api: 'inference' });
  const management = createApp({ ...base, api: 'management' });
  const metrics = createApp({ ...base, api: 'metrics' });

  answerExpectContinue(inference, ctx.config.max_request_size);
  await installTokenAuth({ inference, management }, ctx);
  await inference.register(async (scope) => inferenceApi(scope, ctx));
  await inference.register(async (scope) => v2Routes(scope, ctx), { prefix: '/v2' });
  await inference.register(async (scope) => openApiRoute(scope));
  await management.register(async (scope) => managementApi(scope, ctx));
  await metrics.register(async (scope) => { await metricsApi(scope, ctx); });

  return { inference, management, metrics };
}
