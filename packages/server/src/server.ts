import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { ListenAddress, ServerConfig } from './config/index.js';
import { ConfigError } from './errors.js';
import { ServerEvents } from './events.js';
import { createHttpApps, type HttpApps, type ServerContext } from './http/index.js';
import { resolveInitialModels } from './lifecycle/initial-models.js';
import type { ModelState } from './lifecycle/state-file.js';
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
  /** New requests get 503, accepted ones are answered, workers end; then the logs are closed. */
  drain(): Promise<void>;
}

/**
 * The composition root: config → events, logs → registry → HTTP apps → listening → initial models.
 * It binds the ports before loading models, so a port in use fails fast; it resolves only once every
 * initial model is ready, and on any failure it releases what it started and rejects with the reason.
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const { config } = options;
  const events = new ServerEvents();
  const logger = new ServerLogger(options.serverLog);
  const accessLog = new AccessLog(options.accessLog);
  logServerEvents(events, logger);
  const registry = options.createRegistry({ config, events, logger });
  const context: ServerContext = { config, registry, events, logger, lifecycle: { ready: false, draining: false } };
  const apps = await createHttpApps(context, accessLog);
  const all = [apps.inference, apps.management, apps.metrics];

  const drain = async () => {
    context.lifecycle.draining = true;
    logger.info('draining: refusing new requests, answering accepted ones');
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

  try {
    const addresses = {
      inference: await listen(apps.inference, config.inference_address, 'inference_address'),
      management: await listen(apps.management, config.management_address, 'management_address'),
      metrics: await listen(apps.metrics, config.metrics_address, 'metrics_address'),
    };
    logger.info('listening', { ...addresses });
    for (const model of resolveInitialModels(config.load_models, config.model_store, options.cwd)) {
      const handle = await registry.register({
        archive: model.archive,
        ...(model.name === undefined ? {} : { modelName: model.name }),
        synchronous: true,
      });
      logger.info('model ready', { model: handle.name, version: handle.version, archive: model.archive });
    }
    context.lifecycle.ready = true;
    return { addresses, context, apps, models: () => modelStates(registry), drain };
  } catch (error) {
    logger.error('start-up failed', { error });
    await drain().catch(() => undefined);
    throw error;
  }
}

async function listen(app: FastifyInstance, address: ListenAddress, key: string): Promise<string> {
  try {
    await app.listen({ host: address.host, port: address.port });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'EADDRINUSE' ? 'the port is in use' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new ConfigError(`Cannot listen on ${key} ${address.host}:${address.port}: ${why}`);
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
