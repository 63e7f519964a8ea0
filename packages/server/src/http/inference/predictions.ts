import { performance } from 'node:perf_hooks';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PayloadTooLarge } from '../../errors.js';
import type { ServerContext } from '../../context.js';
import { knownTarget } from '../model-target.js';
import { checkResponseSize } from '../response-size.js';
import { reportRequestsFinished } from '../request-finished.js';
import { sendOutcome } from './outcome.js';
import { toRequestInput } from './request-input.js';

interface PredictionParams {
  model: string;
  version?: string;
}

/**
 * `POST|PUT /predictions/{model}[/{version}]`, as TorchServe and MMS serve it: the body (raw,
 * multipart or JSON) goes to the model's handler and its answer comes back as the response.
 */
export async function predictionRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const timings = reportRequestsFinished(app, ctx, 'predictions');

  const predict = async (request: FastifyRequest<{ Params: PredictionParams }>, reply: FastifyReply) => {
    const handle = ctx.registry.resolve(request.params.model, versionParam(request.params));
    request.modelTarget = { model: handle.name, version: handle.version };
    const input = await toRequestInput(request, ctx.config.max_request_size);
    // Queue time starts once the body is read: a slow upload is not time spent waiting for a worker.
    const receivedAt = performance.now();
    const outcome = await handle.submit({ input, api: 'predictions', receivedAt });
    timings.record(request, outcome);
    checkResponseSize(handle.name, outcome, ctx.config.max_response_size);
    return sendOutcome(reply, outcome);
  };

  for (const url of ['/predictions/:model', '/predictions/:model/:version']) {
    app.route<{ Params: PredictionParams }>({
      method: ['POST', 'PUT'],
      url,
      // Named before the body is read, so a request refused while reading it (413, bad form) still counts for its model.
      onRequest: async (request) => {
        request.modelTarget = knownTarget(ctx.registry, request.params.model, versionParam(request.params));
        // Refused from the declared length, before any of it is read (a multipart form would be read first otherwise).
        const declared = Number(request.headers['content-length']);
        if (Number.isFinite(declared) && declared > ctx.config.max_request_size) throw new PayloadTooLarge(ctx.config.max_request_size);
      },
      handler: predict,
    });
  }
}

/** `/predictions/m/` (a trailing slash) names no version. */
function versionParam(params: PredictionParams): string | undefined {
  return params.version === '' ? undefined : params.version;
}
