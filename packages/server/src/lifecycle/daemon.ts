import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { type StartupReport, describeReady } from './ready.js';
import type { RunPaths } from './paths.js';

/**
 * The old generation the server process starts with, in MiB. Requests wait in the queue for about a
 * second under load, so what each allocates outlives the young generation and fills the old one;
 * from V8's default first limits (~20 MB, the live heap being ~17 MB) that meant a mark-compact every
 * ~50 MobileNet requests, and 1.6 ms of front-end CPU per request. With 128 MiB: 6 mark-compacts
 * instead of 59 over 3,000 requests, 1.1–1.15 ms per request, peak RSS 234 → 279 MB (docs/server.md).
 */
const SERVER_INITIAL_OLD_SPACE_MB = 128;

/** This process's Node flags for the server it starts, with the old-space size unless the user set one. */
export function serverExecArgv(execArgv: readonly string[]): string[] {
  if (execArgv.some((flag) => flag.startsWith('--initial-old-space-size'))) return [...execArgv];
  return [...execArgv, `--initial-old-space-size=${SERVER_INITIAL_OLD_SPACE_MB}`];
}

/** How long `--start` waits for the server to bind and load its initial models. */
export const START_WAIT_MS = 10 * 60 * 1000;

/**
 * `--start`: runs this CLI again with `--foreground` as a detached process (its own session, stdio to
 * `model-server.out`) and waits until it reports ready or fails. Resolves with the exit code.
 */
export async function startDetached(cliPath: string, args: string[], cwd: string, paths: RunPaths): Promise<number> {
  mkdirSync(paths.logDir, { recursive: true });
  const out = openSync(paths.stdioLog, 'a');
  const child = spawn(process.execPath, [...serverExecArgv(process.execArgv), cliPath, ...args, '--foreground'], {
    cwd,
    detached: true,
    stdio: ['ignore', out, out, 'ipc'],
    env: process.env,
  });
  closeSync(out);

  let timedOut = false;
  const outcome = await new Promise<StartupReport | { type: 'exited'; code: number | null; signal: string | null }>((resolve) => {
    const timer = setTimeout(
      () => {
        timedOut = true;
        resolve({ type: 'failed', message: `the server did not report ready within ${START_WAIT_MS / 1000} s and was stopped (pid ${child.pid}); see ${paths.stdioLog}` });
      },
      START_WAIT_MS,
    );
    child.once('message', (message: StartupReport) => {
      clearTimeout(timer);
      resolve(message);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ type: 'exited', code, signal });
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ type: 'failed', message: error.message });
    });
  });

  if (child.connected) child.disconnect();
  if (timedOut) await endChild(child);
  child.unref();
  switch (outcome.type) {
    case 'ready':
      process.stdout.write(describeReady(outcome.state));
      return 0;
    case 'failed':
      process.stderr.write(`model-server failed to start: ${outcome.message}\n`);
      return 1;
    case 'exited':
      process.stderr.write(
        `model-server exited during start-up (${outcome.signal ?? `exit code ${outcome.code}`}); last output:\n${tail(paths.stdioLog)}\n`,
      );
      return 1;
  }
}

/** Milliseconds a server given up on has to abort its start-up cleanly before it is killed. */
const ABORT_GRACE_MS = 10_000;

/** A server that did not report in time is not left behind: SIGTERM aborts its start-up, SIGKILL if that hangs. */
async function endChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), ABORT_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(none)';
  }
}
