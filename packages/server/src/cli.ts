#!/usr/bin/env node
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { loadConfig } from './config/index.js';
// Only what --start, --stop and --status need is imported up front: the serving code (HTTP, workers,
// archives, metrics) is loaded by the foreground server alone, so the launcher starts it sooner.
import { startDetached } from './lifecycle/daemon.js';
import { runPaths } from './lifecycle/paths.js';
import { isServerProcess } from './lifecycle/process-check.js';
import { readPid } from './lifecycle/run-state.js';
import { printStatus } from './lifecycle/status.js';
import { stopServer } from './lifecycle/stop.js';
import { SERVER_VERSION } from './version.js';

interface CliOptions {
  start?: boolean;
  stop?: boolean;
  status?: boolean;
  foreground?: boolean;
  modelStore?: string;
  models?: string[];
  config?: string;
  logDir?: string;
  pidFile?: string;
  enableModelApi?: boolean;
  disableTokenAuth?: boolean;
  json?: boolean;
  timeout: number;
}

const program = new Command('model-server')
  .description(
    'Serve model archives (.mar) over HTTP: an inference API (/predictions, /ping), a management API and Prometheus metrics.\n' +
      'Flags and config.properties keys follow TorchServe and MXNet Model Server.',
  )
  .version(SERVER_VERSION, '-v, --version')
  .addOption(new Option('--start', 'start the server in the background; returns once it answers and its models are ready').conflicts(['stop', 'status']))
  .addOption(new Option('--stop', 'stop the running server: answer requests already accepted, refuse new ones, end workers').conflicts(['status']))
  .option('--status', 'print what runs: pid, addresses, models and their workers')
  .option('--foreground', 'with --start: run in this terminal instead of in the background (Ctrl-C drains and stops)')
  .option('--model-store <dir>', 'directory of archives; --models and load_models are looked up in it (config: model_store)')
  .option(
    '--models <models...>',
    'models to load at start-up: NAME=FILE.mar, FILE.mar, or "all" for every archive in the model store (config: load_models)',
  )
  .addOption(new Option('--config <file>', 'config.properties to read (default: ./config.properties if present)').env('MODEL_SERVER_CONFIG'))
  .addOption(new Option('--ts-config <file>').hideHelp())
  .addOption(new Option('--mms-config <file>').hideHelp())
  .addOption(new Option('--log-dir <dir>', 'directory for model-server.log, access.log and the pid file (default: $LOG_LOCATION or ./logs)'))
  .option('--pid-file <file>', 'pid file (default: <log dir>/model-server.pid; the run state goes beside it as .json)')
  .option('--enable-model-api', 'allow registering and unregistering models through the management API (config: enable_model_api)')
  .option('--disable-token-auth', 'serve the APIs without token authorization (config: disable_token_authorization)')
  .option('--json', 'with --status: print the run state as JSON')
  .addOption(new Option('--timeout <seconds>', 'with --stop: seconds to wait for the drain before killing the server').default(180).argParser(parseSeconds))
  .addHelpText(
    'after',
    `
Examples:
  model-server --start --model-store model_store --models resnet50=resnet50.mar
  curl -X POST http://127.0.0.1:8080/predictions/resnet50 -T kitten.jpg
  model-server --status
  model-server --stop

Exit codes: 0 done; 1 failed (the reason is printed on stderr) or, for --stop and --status, not running.
Files: logs/model-server.log (JSON lines), logs/access.log (one line per request), logs/model-server.out
(the background server's stdout and stderr), logs/model-server.pid and logs/model-server.json (run state).`,
  );

function parseSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 86_400) throw new Error(`--timeout must be a number of seconds between 0 and 86400, got "${value}"`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  program.parse(argv);
  const options = program.opts<CliOptions & { tsConfig?: string; mmsConfig?: string }>();
  const cwd = process.cwd();
  const paths = runPaths({ cwd, ...(options.logDir === undefined ? {} : { logDir: options.logDir }), ...(options.pidFile === undefined ? {} : { pidFile: options.pidFile }) });

  if (options.stop === true) return stopServer(paths, options.timeout * 1000);
  if (options.status === true) return printStatus(paths, options.json === true);
  if (options.start !== true) {
    program.outputHelp();
    return 1;
  }

  const configFile = options.config ?? options.tsConfig ?? options.mmsConfig;
  // Validate before going to the background, so a bad key is reported by the command that was typed.
  const { config, file, warnings } = loadConfig({
    cwd,
    ...(configFile === undefined ? {} : { configFile }),
    overrides: {
      model_store: options.modelStore,
      load_models: options.models,
      enable_model_api: options.enableModelApi,
      disable_token_authorization: options.disableTokenAuth,
    },
  });

  // One line each on the terminal that typed --start; a foreground server logs them (and its log reaches stderr).
  if (options.foreground !== true) for (const warning of warnings) process.stderr.write(`model-server: warning: ${warning}\n`);

  const running = readPid(paths);
  if (running !== undefined && running !== process.pid && isServerProcess(running)) {
    process.stderr.write(`model-server is already running (pid ${running}); stop it first with model-server --stop\n`);
    return 1;
  }
  if (options.foreground === true) {
    const [{ runForeground }, { createEngineRegistry }] = await Promise.all([import('./foreground.js'), import('./engine.js')]);
    await runForeground({ config, configFile: file, configWarnings: warnings, cwd, paths, createRegistry: createEngineRegistry });
    return -1;
  }
  return startDetached(fileURLToPath(import.meta.url), argv.slice(2), cwd, paths);
}

main(process.argv).then(
  (code) => {
    // -1: a foreground server keeps running until it is signalled.
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`model-server: ${message}\n`);
    process.exit(1);
  },
);
