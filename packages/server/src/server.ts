import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ListenAddress, ServerConfig } from './config/index.js';
import { type ApiName, GRPC_ADDRESS_KEY, listenerKeys } from './config/listeners.js';
import { ServerEvents } from './events.js';
import type { GrpcInferenceServer } from './grpc/index.js';
import type { HttpApps, ServerContext } from './http/index.js';
import { type InitialModel, resolveInitialModels } from './lifecycle/initial-models.js';
import { ModelLoadFailed, StartupAborted, StartupFailed } from './errors.js';
import type { ModelState } from './lifecycle/run-state.js';
import { AccessLog, type LineSink, ServerLogger, logServerEvents } from './logging/index.js';
import { registerArchive } from './model-store/register-archive.js';
import type { ModelRegistry } from './models/types.js';

export interface RegistryDeps {
  config: ServerConfig;
  events: ServerEvents;
  logger: ServerLogger;
}

export interface StartServerOptions {
  config: ServerConfig;
  /** Resolves relative archive names (after the model store). */
  cwd: string;
  createRegistry: (deps: RegistryDeps) => ModelRegistry;
  serverLog: LineSink;
  accessLog: LineSink;
  /** Milliseconds the drain waits for connections still open before closing them. */
  drainGraceMs?: number;
  /** Aborts the start-up (a signal while models load): what was started is released and the start rejects. */
  signal?: AbortSignal;
  /** Config settings accepted but not acted on, one warning line each in the server log. */
  configWarnings?: string[];
}

export interface BoundAddresses {
  inference: string;
  management: string;
  /** Absent with `enable_metrics_api=false`. */
  metrics?: string;
  /** The gRPC inference service, as `host:port`. */
  grpcInference: string;
}

export interface RunningServer {
  addresses: BoundAddresses;
  context: ServerContext;
  apps: HttpApps;
  models(): ModelState[];
  /**
   * After `shutdown_delay` seconds of failing readiness while still serving: new requests get 503,
   * accepted ones are answered, workers end; then the logs are closed.
   */
  drain(): Promise<void>;
}

/**
 * The composition root: config → events, logs → registry → HTTP apps → listening → initial models.
 * The initial archives are extracted and checked while the HTTP code loads and the ports are bound
 * (that is most of a cold start otherwise spent waiting), but no worker starts before every port is
 * bound, so a port in use fails fast and no event goes unseen by the metrics. It resolves only once
 * every initial model is ready, and on any failure it releases what it started and rejects with the reason.
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const { config } = options;
  const events = new ServerEvents();
  const logger = new ServerLogger(options.serverLog);
  const accessLog = new AccessLog(options.accessLog);
  logServerEvents(events, logger);
  for (const warning of options.configWarnings ?? []) logger.warn(warning);
  hideEnvironmentFromWorkers(config.blacklist_env_vars, logger);
  const registry = options.createRegistry({ config, events, logger });
  const context: ServerContext = { config, registry, events, logger, lifecycle: { ready: false, stopping: false, draining: false } };
  let apps: HttpApps | undefined;
  // The HTTP code (fastify, prom-client, zod schemas) is imported here, not with this module, so that
  // loading it overlaps the extraction of the initial archives.
  const creating = import('./http/index.js').then(({ createHttpApps }) => createHttpApps(context, accessLog));
  creating.catch(() => undefined);
  // The gRPC front door (grpc-js, protobufjs and the proto) loads alongside; it needs the HTTP apps' key.
  const loadingGrpc = import('./grpc/index.js');
  loadingGrpc.catch(() => undefined);
  let grpc: GrpcInferenceServer | undefined;

  let drained: Promise<void> | undefined;
  const drain = () => (drained ??= stopAll());
  const stopAll = async () => {
    if (context.lifecycle.ready && config.shutdown_delay > 0) {
      // Readiness fails first, while the listeners still serve, so load balancers stop routing here
      // before connections are refused (see shutdown_delay).
      context.lifecycle.ready = false;
      context.lifecycle.stopping = true;
      logger.info('stopping: readiness fails, requests are still served until the drain', { shutdownDelaySeconds: config.shutdown_delay });
      await sleep(config.shutdown_delay * 1000);
    }
    context.lifecycle.draining = true;
    logger.info('draining: refusing new requests, answering accepted ones');
    const created = apps ?? (await creating.catch(() => undefined));
    const all = created === undefined ? [] : [...new Set([created.inference, created.management, created.metrics])];
    const graceMs = options.drainGraceMs ?? (config.default_response_timeout + 30) * 1000;
    const grace = setTimeout(() => {
      for (const app of all) app.server.closeAllConnections();
    }, graceMs);
    grace.unref();
    await Promise.all([...all.map((app) => app.close()), grpc?.close(graceMs)]);
    clearTimeout(grace);
    await registry.shutdown();
    logger.info('stopped');
    await Promise.all([logger.close(), accessLog.close()]);
  };

  // Opens once every port is bound: the initial models' workers wait for it, their extraction does not.
  let portsBound = false;
  let openGate: () => void = () => undefined;
  let closeGate: (error: unknown) => void = () => undefined;
  const listening = new Promise<void>((resolve, reject) => {
    openGate = resolve;
    closeGate = reject;
  });
  listening.catch(() => undefined);
  let models: Promise<void> | undefined;

  // Settles (rejects) when the start-up is aborted, so a slow `initialize` is not waited for.
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(new StartupAborted(String(options.signal?.reason ?? 'aborted')));
    if (options.signal?.aborted === true) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  const untilAborted = <T>(work: Promise<T>): Promise<T> => Promise.race([work, aborted]);

  try {
    models = loadInitialModels(registry, config, logger, resolveInitialModels(config.load_models, config.model_store, options.cwd), listening);
    models.catch(() => undefined);
    apps = await untilAborted(creating);
    const served = apps;
    const frontDoor = (grpc = (await untilAborted(loadingGrpc)).createGrpcInferenceServer(context, accessLog, served.inferenceKey));
    const bound: Partial<Record<ApiName, string>> = {};
    for (const listener of apps.listeners) {
      const url = await untilAborted(listen(listenerKeys(listener), listener.address, () => listenHttp(listener.app, listener.address)));
      for (const api of listener.apis) bound[api] = url;
    }
    const addresses: BoundAddresses = {
      inference: bound.inference!,
      management: bound.management!,
      ...(bound.metrics === undefined ? {} : { metrics: bound.metrics }),
      grpcInference: await untilAborted(listen(GRPC_ADDRESS_KEY, config.grpc_inference_address, () => frontDoor.listen(config.grpc_inference_address))),
    };
    logger.info('listening', { ...addresses });
    portsBound = true;
    openGate();
    await untilAborted(models);
    if (onAbort !== undefined) options.signal?.removeEventListener('abort', onAbort);
    context.lifecycle.ready = true;
    return { addresses, context, apps, models: () => modelStates(registry), drain };
  } catch (error) {
    logger.error('start-up failed', { error });
    closeGate(error);
    // Before the ports were bound no worker has started: only extractions are under way, and they
    // remove what they wrote once they see the gate closed; wait for that rather than race them.
    if (!portsBound) await models?.catch(() => undefined);
    await drain().catch(() => undefined);
    throw error;
  }
}

/**
 * Loads every initial model at once (each archive's workers start in parallel, once `startAfter`
 * resolves), and reports every archive that failed, each named, not only the first.
 */
async function loadInitialModels(
  registry: ModelRegistry,
  config: ServerConfig,
  logger: ServerLogger,
  models: InitialModel[],
  startAfter: Promise<void>,
): Promise<void> {
  const results = await Promise.allSettled(
    models.map(async (model) => {
      try {
        const handle = await registerArchive(registry, config.models, {
          archive: model.archive,
          ...(model.name === undefined ? {} : { modelName: model.name }),
          synchronous: true,
          startAfter,
          initial: true,
        });
        logger.info('model ready', { model: handle.name, version: handle.version, archive: model.archive });
      } catch (error) {
        throw new ModelLoadFailed(`Cannot load model from ${model.archive}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      }
    }),
  );
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as ModelLoadFailed] : []));
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new ModelLoadFailed(failures.map((f) => f.message).join('; '));
}

/** Binds one listener; a failure is `StartupFailed` naming the config keys it was given by (a port in use, say). */
async function listen(keys: string, address: ListenAddress, bind: () => Promise<string>): Promise<string> {
  try {
    return await bind();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Our own APIs never collide (equal HTTP addresses share a listener; overlapping ones, and a gRPC
    // address on an HTTP API's port, are a config error), so a port in use here is held by another program.
    const why = code === 'EADDRINUSE' ? 'the port is in use by another process' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new StartupFailed(`Cannot listen on ${keys} ${address.host}:${address.port}: ${why}`);
  }
}

async function listenHttp(app: FastifyInstance, address: ListenAddress): Promise<string> {
  await app.listen({ host: address.host, port: address.port });
  const bound = app.server.address() as AddressInfo;
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return `http://${host}:${bound.port}`;
}

/**
 * `blacklist_env_vars`: variables whose names match are removed from this process's environment
 * before any worker starts, since workers inherit it (TorchServe filters them from its workers'
 * environment the same way). The server read what it needs from the environment before this point.
 */
function hideEnvironmentFromWorkers(pattern: string | undefined, logger: ServerLogger): void {
  if (pattern === undefined) return;
  // Whole names, as TorchServe matches them (`Matcher.matches`).
  const matcher = new RegExp(`^(?:${pattern})$`);
  const hidden = Object.keys(process.env).filter((name) => matcher.test(name));
  for (const name of hidden) delete process.env[name];
  if (hidden.length > 0) logger.info('environment variables hidden from workers (blacklist_env_vars)', { variables: hidden });
}

function modelStates(registry: ModelRegistry): ModelState[] {
  return registry.list().flatMap((model) =>
    model.versions.map((v) => ({
      name: v.name,
      version: v.version,
      default: v.version === model.defaultVersion,
      ready: v.isReady(),
      workers: v.workers().filter((w) => w.state === 'ready' || w.state === 'busy').length,
      queued: v.queueLength(),
    })),
  );
}
