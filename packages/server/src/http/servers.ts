import type { FastifyInstance } from 'fastify';
import { type ApiName, type ListenerPlan, planListeners } from '../config/listeners.js';
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
import { v1LivenessRoute, v1Routes } from './v1/index.js';
import { v2Routes } from './v2/index.js';

/** One fastify app bound to one address, serving one or more of the APIs. */
export interface HttpListener extends ListenerPlan {
  app: FastifyInstance;
}

export interface HttpApps {
  /** The app serving each API; APIs configured with the same address share one. */
  inference: FastifyInstance;
  management: FastifyInstance;
  metrics: FastifyInstance;
  /** One per socket to open. With `enable_metrics_api=false` the metrics app has none. */
  listeners: HttpListener[];
  /** The key inference calls must carry while token authorization is on; the gRPC service checks it too. */
  inferenceKey: string | undefined;
}

/**
 * The composition of the HTTP apps: one app per listener (see `planListeners`), each API's routes
 * registered as one encapsulated plugin per line, so an API's hooks and body parsers never leak into
 * another's, also when two APIs share a listener.
 */
export async function createHttpApps(ctx: ServerContext, accessLog: AccessLog): Promise<HttpApps> {
  const { config } = ctx;
  const base = {
    bodyLimit: config.max_request_size,
    logger: ctx.logger,
    accessLog,
    lifecycle: ctx.lifecycle,
    onAnswered: (status: number) => ctx.events.emit('http.response', { status }),
    cors: { origin: config.cors_allowed_origin, methods: config.cors_allowed_methods, headers: config.cors_allowed_headers },
    limits: connectionLimits(config),
  };
  const listeners: HttpListener[] = planListeners(ctx.config).map((plan) => ({ ...plan, app: createApp({ ...base, api: plan.apis.join('+') }) }));
  const appFor = (api: ApiName): FastifyInstance | undefined => listeners.find((l) => l.apis.includes(api))?.app;
  // Without a metrics listener (`enable_metrics_api=false`) its app still exists, for callers that inject into it.
  const metrics = appFor('metrics') ?? createApp({ ...base, api: 'metrics' });

  const keys = await installTokenAuth(listeners, ctx);
  for (const { app, apis } of listeners) {
    if (apis.includes('inference')) {
      answerExpectContinue(app, ctx.config.max_request_size);
      await app.register(async (scope) => inferenceApi(scope, ctx));
      await app.register(async (scope) => v1Routes(scope, ctx), { prefix: '/v1' });
      await app.register(async (scope) => v1LivenessRoute(scope));
      await app.register(async (scope) => v2Routes(scope, ctx), { prefix: '/v2' });
    }
    if (apis.includes('management')) await app.register(async (scope) => managementApi(scope, ctx));
    if (apis.includes('inference') || apis.includes('management')) await app.register(async (scope) => openApiRoute(scope));
  }
  await metrics.register(async (scope) => {
    await metricsApi(scope, ctx);
  });

  return { inference: appFor('inference')!, management: appFor('management')!, metrics, listeners, inferenceKey: keys?.inference };
}
