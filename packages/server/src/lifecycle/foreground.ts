import { mkdirSync } from 'node:fs';
import type { ServerConfig } from '../config/index.js';
import { fileSink } from '../logging/index.js';
import type { ModelRegistry } from '../models/types.js';
import { type RegistryDeps, type RunningServer, startServer } from '../server.js';
import type { RunPaths } from './paths.js';
import { type RunState, removeRunFiles, writeRunFiles } from './state-file.js';

/** What a detached server tells the `--start` process that spawned it, over the IPC channel. */
export type StartupReport = { type: 'ready'; state: RunState } | { type: 'failed'; message: string };

export interface ForegroundOptions {
  config: ServerConfig;
  configFile: string | undefined;
  cwd: string;
  paths: RunPaths;
  createRegistry: (deps: RegistryDeps) => ModelRegistry;
}

/** Milliseconds between rewrites of the run state while models and workers change. */
const STATE_DEBOUNCE_MS = 200;

/**
 * Runs the server in this process until SIGTERM or SIGINT, then drains and exits. Writes the pid and
 * run-state files once every initial model is ready, and reports ready or the failure to a parent
 * `--start` process when there is one.
 */
export async function runForeground(options: ForegroundOptions): Promise<void> {
  const { paths } = options;
  mkdirSync(paths.logDir, { recursive: true });
  const mirror = process.stderr.isTTY ? process.stderr : undefined;
  let server: RunningServer;
  try {
    server = await startServer({
      config: options.config,
      cwd: options.cwd,
      createRegistry: options.createRegistry,
      serverLog: fileSink(paths.serverLog, mirror),
      accessLog: fileSink(paths.accessLog),
    });
  } catch (error) {
    const message = (error as Error).message;
    process.stderr.write(`model-server failed to start: ${message}\n`);
    await report({ type: 'failed', message });
    process.exit(1);
  }

  const startedAt = new Date().toISOString();
  const state = (): RunState => ({
    pid: process.pid,
    startedAt,
    cwd: options.cwd,
    logDir: paths.logDir,
    ...(options.configFile === undefined ? {} : { configFile: options.configFile }),
    addresses: server.addresses,
    models: server.models(),
  });
  writeRunFiles(paths, state());

  let pending: NodeJS.Timeout | undefined;
  const refresh = () => {
    pending ??= setTimeout(() => {
      pending = undefined;
      if (!server.context.lifecycle.draining) writeRunFiles(paths, state());
    }, STATE_DEBOUNCE_MS).unref();
  };
  for (const event of ['model.registered', 'model.unregistered', 'worker.started', 'worker.exited'] as const) {
    server.context.events.on(event, refresh);
  }

  let stopping: Promise<void> | undefined;
  const stop = (signal: string) => {
    stopping ??= (async () => {
      server.context.logger.info('stop requested', { signal });
      try {
        await server.drain();
      } finally {
        removeRunFiles(paths, process.pid);
      }
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  const ready = state();
  process.stdout.write(describeReady(ready));
  await report({ type: 'ready', state: ready });
}

export function describeReady(state: RunState): string {
  const models = state.models.map((m) => `${m.name} ${m.version}`).join(', ');
  return [
    `model-server running (pid ${state.pid})`,
    `  inference:  ${state.addresses.inference}`,
    `  management: ${state.addresses.management}`,
    `  metrics:    ${state.addresses.metrics}`,
    `  models:     ${models === '' ? '(none)' : models}`,
    `  logs:       ${state.logDir}`,
    '',
  ].join('\n');
}

function report(message: StartupReport): Promise<void> {
  const send = process.send?.bind(process);
  if (send === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    send(message, () => {
      process.disconnect?.();
      resolve();
    });
  });
}
