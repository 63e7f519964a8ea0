import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { ListenAddress, ServerConfig } from './config/index.js';
import { ServerEvents } from './events.js';
import type { HttpApps, ServerContext } from './http/index.js';
import { type InitialModel, resolveInitialModels } from './lifecycle/initial-models.js';
import { ModelLoadFailed, StartupAborted, StartupFailed } from './errors.js';
import type { ModelState } from './lifecycle/run-state.js';
import { AccessLog, type LineSink, ServerLogger, logServerEvents } from './logging/index.js';
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
}

export interface BoundAddresses {
  inference: string;
  management: string;
  metrics: string;
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
  const registry = options.createRegistry({ config, events, logger });
  const context: ServerContext = { config, registry, events, logger, lifecycle: { ready: false, stopping: false, draining: false } };
  let apps: HttpApps | undefined;
  // The HTTP code (fastify, prom-client, zod schemas) is imported here, not with this module, so that
  // loading it overlaps the extraction of the initial archives.
  const creating = import('./http/index.js').then(({ createHttpApps }) => createHttpApps(context, accessLog));
  creating.catch(() => undefined);

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
    const all = created === undefined ? [] : [created.inference, created.management, created.metrics];
    const grace = setTimeout(() => {
      for (const app of all) app.server.closeAllConnections();
    }, options.drainGraceMs ?? (config.default_response_timeout + 30) * 1000);
    grace.unref();
    await Promise.all(all.map((app) => app.close()));
    clearTimeout(grace);
    await registry.shutdown();
    logger.info('stopped');
    await Promise.all([logger.close(), accessLog.close()]);
  };

  // Opens once every port is bound: the initial models' workers wait for it, their extraction does not.
  let bound = false;
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
    models = loadInitialModels(registry, logger, resolveInitialModels(config.load_models, config.model_store, options.cwd), listening);
    models.catch(() => undefined);
    apps = await untilAborted(creating);
    const addresses = {
      inference: await untilAborted(listen(apps.inference, config.inference_address, 'inference_address')),
      management: await untilAborted(listen(apps.management, config.management_address, 'management_address')),
      metrics: await untilAborted(listen(apps.metrics, config.metrics_address, 'metrics_address')),
    };
    logger.info('listening', { ...addresses });
    bound = true;
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
    if (!bound) await models?.catch(() => undefined);
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
  logger: ServerLogger,
  models: InitialModel[],
  startAfter: Promise<void>,
): Promise<void> {
  const results = await Promise.allSettled(
    models.map(async (model) => {
      try {
        const handle = await registry.register({
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

async function listen(app: FastifyInstance, address: ListenAddress, key: string): Promise<string> {
  try {
    await app.listen({ host: address.host, port: address.port });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'EADDRINUSE' ? 'the port is in use' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new StartupFailed(`Cannot listen on ${key} ${address.host}:${address.port}: ${why}`);
  }
  const bound = app.server.address() as AddressInfo;
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return `http://${host}:${bound.port}`;
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
