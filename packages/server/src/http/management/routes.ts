import { rm } from 'node:fs/promises';
import { basename } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ArchiveNotFound, BadRequest, ModelApiDisabled, ModelNotFound } from '../../errors.js';
import type { ModelVersionHandle, RegisterOptions } from '../../models/types.js';
import type { ServerContext } from '../../context.js';
import { registerArchive, resolveArchiveSource } from '../../model-store/index.js';
import { describeVersion } from './describe.js';
import {
  DescribeQuerySchema, ListQuerySchema, NoQuerySchema, parseQuery, RegisterQuerySchema, ScaleQuerySchema, UnregisterQuerySchema,
} from './query.js';

interface NameParams {
  name: string;
  version?: string;
}

/**
 * The management API: list, describe, register, scale, set-default and unregister models. Register
 * and unregister answer 405 unless `enable_model_api=true` (TorchServe 0.11.1's default), since
 * registering a model runs its code.
 */
export async function managementRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const { registry, config } = ctx;
  const requireModelApi = async () => {
    if (!config.enable_model_api) throw new ModelApiDisabled();
  };

  app.get('/models', async (request) => {
    const query = parseQuery(ListQuerySchema, request.query);
    const names = registry.list().map((m) => ({ m, name: m.name })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    // The token is the last name of the previous page, so pages stay right while models come and go.
    const after = query.next_page_token === undefined ? undefined : decodeToken(query.next_page_token);
    const rest = after === undefined ? names : names.filter((n) => n.name > after);
    const page = rest.slice(0, query.limit);
    const last = page[page.length - 1];
    return {
      ...(rest.length > query.limit && last !== undefined ? { nextPageToken: encodeToken(last.name) } : {}),
      models: page.map(({ m }) => {
        const handle = m.versions.find((v) => v.version === m.defaultVersion) ?? m.versions[0];
        return { modelName: m.name, modelUrl: handle === undefined ? null : archiveName(handle), defaultVersion: m.defaultVersion, versions: m.versions.map((v) => v.version) };
      }),
    };
  });

  const describe = async (request: FastifyRequest<{ Params: NameParams }>) => {
    parseQuery(DescribeQuerySchema, request.query);
    const { name, version } = request.params;
    const model = registry.list().find((m) => m.name === name);
    if (model === undefined) throw new ModelNotFound(name);
    const handles = version === 'all' ? model.versions : [registry.resolve(name, version)];
    return handles.map((h) => describeVersion(h, h.version === model.defaultVersion, config.job_queue_size));
  };
  app.get('/models/:name', describe);
  app.get('/models/:name/:version', describe);

  app.post('/models', { onRequest: requireModelApi }, async (request, reply) => {
    const given = registerParameters(request.query, request.body);
    // `url=` names no archive: not found, as TorchServe answers it (other empty values count as absent).
    if (given['url'] === '') throw new ArchiveNotFound('');
    const query = parseQuery(RegisterQuerySchema, given);
    const source = await resolveArchiveSource(query.url, { modelStore: config.model_store, allowedUrls: config.allowed_urls });
    const options: RegisterOptions = { archive: source.path, synchronous: query.synchronous };
    if (query.model_name !== undefined) options.modelName = query.model_name;
    if (query.initial_workers !== undefined) options.initialWorkers = query.initial_workers;
    if (query.batch_size !== undefined) options.batchSize = query.batch_size;
    if (query.max_batch_delay !== undefined) options.maxBatchDelay = query.max_batch_delay;
    if (query.response_timeout !== undefined) options.responseTimeout = query.response_timeout;
    let handle: ModelVersionHandle;
    try {
      handle = await registerArchive(registry, config.models, options);
    } catch (err) {
      if (source.downloaded) await rm(source.path, { force: true });
      throw err;
    }
    const workers = handle.config.minWorkers;
    const status = `Model "${handle.name}" Version: ${handle.version} registered with ${workers} initial workers`;
    if (query.synchronous || workers === 0) return reply.code(200).send({ status });
    return reply.code(202).send({ status: `${status}; processing worker updates...` });
  });

  const scale = async (request: FastifyRequest<{ Params: NameParams }>, reply: FastifyReply) => {
    const query = parseQuery(ScaleQuerySchema, request.query);
    const handle = registry.resolve(request.params.name, versionOf(request.params) ?? query.model_version);
    const done = handle.scale(query.min_worker, query.max_worker, query.synchronous);
    if (query.synchronous) {
      await done;
      return reply.code(200).send({ status: `Workers scaled to ${query.min_worker} for model: ${handle.name}, version: ${handle.version}` });
    }
    done.catch((error: unknown) => ctx.logger.error('scaling workers failed', { model: handle.name, version: handle.version, error }));
    return reply.code(202).send({ status: 'Processing worker updates...' });
  };
  app.put('/models/:name', scale);
  app.put('/models/:name/:version', scale);

  const unregister = async (request: FastifyRequest<{ Params: NameParams }>, reply: FastifyReply) => {
    const query = parseQuery(UnregisterQuerySchema, request.query);
    const handle = registry.resolve(request.params.name, versionOf(request.params));
    const done = registry.unregister(handle.name, handle.version);
    if (!query.synchronous) {
      done.catch((error: unknown) => ctx.logger.error('unregistering failed', { model: handle.name, version: handle.version, error }));
      return reply.code(202).send({ status: `Unregistering model "${handle.name}" version ${handle.version}: its accepted requests are answered first` });
    }
    await done;
    return reply.code(200).send({ status: `Model "${handle.name}" version ${handle.version} unregistered` });
  };
  app.delete('/models/:name', { onRequest: requireModelApi }, unregister);
  app.delete('/models/:name/:version', { onRequest: requireModelApi }, unregister);

  app.put<{ Params: { name: string; version: string } }>('/models/:name/:version/set-default', async (request) => {
    parseQuery(NoQuerySchema, request.query);
    const { name, version } = request.params;
    registry.setDefault(name, version);
    return { status: `Default version of model "${name}" set to ${version}` };
  });
}

/** `/models/m/` (a trailing slash) names no version. */
function versionOf(params: NameParams): string | undefined {
  return params.version === '' ? undefined : params.version;
}

/**
 * A registration's parameters: the query string, and, as TorchServe also takes them, the fields of a
 * JSON body (`{"url": "x.mar", "initial_workers": 1}`); the query wins where both give one.
 */
function registerParameters(query: unknown, body: unknown): Record<string, unknown> {
  const fromBody: Record<string, unknown> = {};
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
      fromBody[key] = typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
    }
  }
  return { ...fromBody, ...((query ?? {}) as Record<string, unknown>) };
}

function archiveName(handle: ModelVersionHandle): string {
  return basename(handle.archivePath);
}

/** The token wraps the last name in a small JSON object, so a token this server did not write is told apart. */
function encodeToken(after: string): string {
  return Buffer.from(JSON.stringify({ after })).toString('base64url');
}

function decodeToken(token: string): string {
  const refuse = () => new BadRequest(`Parameter next_page_token is not a token this server returned, got ${JSON.stringify(token)}`);
  if (!/^[A-Za-z0-9_-]+$/.test(token)) throw refuse();
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw refuse();
  }
  const after = (decoded as { after?: unknown } | null)?.after;
  if (typeof after !== 'string' || after === '') throw refuse();
  return after;
}
