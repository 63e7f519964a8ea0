import path from 'node:path';

export interface RunPaths {
  logDir: string;
  /** The server's pid, as text (what `--stop` signals). */
  pidFile: string;
  /** JSON run state: pid, bound addresses, models (what `--status` prints). */
  stateFile: string;
  /** The detached server's stdout and stderr (crashes before the server log opens land here). */
  stdioLog: string;
  serverLog: string;
  accessLog: string;
}

/** The log directory: `--log-dir`, else `LOG_LOCATION` (TorchServe's variable), else `./logs`. */
export function runPaths(options: { cwd: string; logDir?: string; pidFile?: string; env?: NodeJS.ProcessEnv }): RunPaths {
  const env = options.env ?? process.env;
  const logDir = path.resolve(options.cwd, options.logDir ?? env['LOG_LOCATION'] ?? 'logs');
  const pidFile = path.resolve(options.cwd, options.pidFile ?? path.join(logDir, 'model-server.pid'));
  return {
    logDir,
    pidFile,
    stateFile: pidFile.replace(/\.pid$/, '') + '.json',
    stdioLog: path.join(logDir, 'model-server.out'),
    serverLog: path.join(logDir, 'model-server.log'),
    accessLog: path.join(logDir, 'access.log'),
  };
}
