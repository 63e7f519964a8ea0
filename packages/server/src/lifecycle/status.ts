import type { RunPaths } from './paths.js';
import { isServerProcess } from './process-check.js';
import { readRunState } from './run-state.js';
import { removeRunFiles } from './state-file.js';

/** How long `--status` waits for the server's `/ping`. */
const PING_TIMEOUT_MS = 2000;

/**
 * `--status`: what runs, from the run-state file the server keeps current (pid, bound addresses,
 * models and their workers), with health asked of the server itself. Resolves with the exit code:
 * 0 running, 1 not running.
 */
export async function printStatus(paths: RunPaths, json: boolean): Promise<number> {
  const state = readRunState(paths);
  if (state === undefined || !isServerProcess(state.pid)) {
    if (state !== undefined) removeRunFiles(paths, state.pid);
    if (json) process.stdout.write(`${JSON.stringify({ running: false })}\n`);
    else process.stdout.write('model-server is not running\n');
    return 1;
  }
  if (state.phase === 'starting' || state.addresses === undefined) {
    if (json) process.stdout.write(`${JSON.stringify({ running: true, health: 'Starting', ...state }, null, 2)}\n`);
    else process.stdout.write(`model-server is starting (pid ${state.pid}, since ${state.startedAt}): loading its initial models\n`);
    return 0;
  }
  const { addresses } = state;
  const health = await ping(addresses.inference);
  if (json) {
    process.stdout.write(`${JSON.stringify({ running: true, health, ...state }, null, 2)}\n`);
    return 0;
  }
  const lines = [
    `model-server is running (pid ${state.pid}, since ${state.startedAt}): ${health}`,
    `  inference:  ${addresses.inference}`,
    `  management: ${addresses.management}`,
    `  metrics:    ${addresses.metrics ?? 'off (enable_metrics_api=false)'}`,
    ...(addresses.grpcInference === undefined ? [] : [`  grpc:       ${addresses.grpcInference}`]),
    `  logs:       ${state.logDir}`,
    '  models:',
    ...(state.models.length === 0
      ? ['    (none)']
      : state.models.map(
          (m) =>
            `    ${m.name} ${m.version}${m.default ? ' (default)' : ''}: ${m.ready ? 'ready' : 'not ready'}, ${m.workers} worker${m.workers === 1 ? '' : 's'}, ${m.queued} queued`,
        )),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

async function ping(inference: string): Promise<string> {
  try {
    const res = await fetch(`${inference}/ping`, { signal: AbortSignal.timeout(PING_TIMEOUT_MS) });
    const body = (await res.json()) as { status?: unknown };
    return typeof body.status === 'string' ? body.status : `HTTP ${res.status}`;
  } catch (error) {
    return `not answering (${(error as Error).message})`;
  }
}
