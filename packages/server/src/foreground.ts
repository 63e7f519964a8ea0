import { mkdirSync } from 'node:fs';
import type { ServerConfig } from './config/index.js';
import { fileSink } from './logging/index.js';
import type { ModelRegistry } from './models/types.js';
import { type RegistryDeps, type RunningServer, startServer } from './server.js';
import type { RunPaths } from './lifecycle/paths.js';
import { type StartupReport, describeReady } from './lifecycle/ready.js';
import type { RunState } from './lifecycle/run-state.js';
import { claimPidFile, removeRunFiles, writeRunFiles, writeStateFile } from './lifecycle/state-file.js';

export interface ForegroundOptions {
  config: ServerConfig;
  configFile: string | undefined;
  /** Settings accepted but not acted on (`loadConfig`'s warnings), logged once the log is open. */
  configWarnings?: string[];
  cwd: string;
  paths: RunPaths;
  createRegistry: (deps: RegistryDeps) => ModelRegistry;
}

/** Milliseconds between rewrites of the run state while models and workers change. */
const STATE_DEBOUNCE_MS = 200;

/**
 * Runs the server in this process until SIGTERM or SIGINT, then drains and exits. Claims the pid file
 * first (so a second server in the same place refuses to start, and `--stop` reaches this one while it
 * is still starting), writes the run state once every initial model is ready, and reports ready or
 * the failure to a parent `--start` process when there is one. A signal during start-up aborts it.
 */
export async function runForeground(options: ForegroundOptions): Promise<void> {
  const { paths } = options;
  mkdirSync(paths.logDir, { recursive: true });
  const fail = async (message: string): Promise<never> => {
    process.stderr.write(`model-server failed to start: ${message}\n`);
    await report({ type: 'failed', message });
    process.exit(1);
  };

  const claim = claimPidFile(paths, process.pid);
  if (!claim.claimed) await fail(`model-server is already running (pid ${claim.holder}); stop it first with model-server --stop`);
  const startedAt = new Date().toISOString();
  const base = {
    pid: process.pid,
    startedAt,
    cwd: options.cwd,
    logDir: paths.logDir,
    ...(options.configFile === undefined ? {} : { configFile: options.configFile }),
  };
  writeStateFile(paths, { ...base, phase: 'starting', models: [] });

  // Installed before anything starts: a signal while models load ends the start-up cleanly.
  const abort = new AbortController();
  let server: RunningServer | undefined;
  let stopping: Promise<void> | undefined;
  const onSignal = (signal: string) => {
    if (server === undefined) {
      abort.abort(signal);
      return;
    }
    const running = server;
    stopping ??= (async () => {
      running.context.logger.info('stop requested', { signal });
      try {
        await running.drain();
      } finally {
        removeRunFiles(paths, process.pid);
      }
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  // A terminal, or a foreground server that no `--start` launched (a container's PID 1, a systemd
  // unit): the platform collects stderr, so the server log goes there as well as to its file.
  const mirror = process.stderr.isTTY || process.send === undefined ? process.stderr : undefined;
  try {
    server = await startServer({
      config: options.config,
      cwd: options.cwd,
      createRegistry: options.createRegistry,
      serverLog: fileSink(paths.serverLog, mirror),
      accessLog: fileSink(paths.accessLog, undefined, { batch: true }),
      signal: abort.signal,
      ...(options.configWarnings === undefined ? {} : { configWarnings: options.configWarnings }),
    });
  } catch (error) {
    removeRunFiles(paths, process.pid);
    return fail((error as Error).message);
  }

  const started = server;
  const state = (): RunState => ({ ...base, phase: 'running', addresses: started.addresses, models: started.models() });
  writeRunFiles(paths, state());

  let pending: NodeJS.Timeout | undefined;
  const refresh = () => {
    pending ??= setTimeout(() => {
      pending = undefined;
      if (!started.context.lifecycle.draining) writeRunFiles(paths, state());
    }, STATE_DEBOUNCE_MS).unref();
  };
  for (const event of ['model.registered', 'model.unregistered', 'worker.started', 'worker.exited'] as const) {
    started.context.events.on(event, refresh);
  }

  const ready = state();
  process.stdout.write(describeReady(ready));
  await report({ type: 'ready', state: ready });
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
