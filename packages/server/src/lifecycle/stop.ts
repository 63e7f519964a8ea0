import { setTimeout as sleep } from 'node:timers/promises';
import type { RunPaths } from './paths.js';
import { isAlive, isServerProcess } from './process-check.js';
import { readPid } from './run-state.js';
import { removeRunFiles } from './state-file.js';

/**
 * `--stop`: SIGTERM the server named by the pid file and wait while it drains (accepted requests are
 * answered, workers end). After `timeoutMs` it is killed. Resolves with the exit code.
 */
export async function stopServer(paths: RunPaths, timeoutMs: number): Promise<number> {
  const pid = readPid(paths);
  if (pid === undefined) {
    process.stderr.write(`model-server is not running (no pid file at ${paths.pidFile})\n`);
    return 1;
  }
  if (!isServerProcess(pid)) {
    removeRunFiles(paths, pid);
    process.stderr.write(`model-server is not running (removed the stale pid file for pid ${pid})\n`);
    return 1;
  }
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) {
    process.kill(pid, 'SIGKILL');
    removeRunFiles(paths, pid);
    process.stderr.write(`model-server (pid ${pid}) did not finish draining within ${timeoutMs / 1000} s and was killed\n`);
    return 1;
  }
  process.stdout.write(`model-server stopped (pid ${pid})\n`);
  return 0;
}
