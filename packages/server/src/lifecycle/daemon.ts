import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { type StartupReport, describeReady } from './ready.js';
import type { RunPaths } from './paths.js';

/** How long `--start` waits for the server to bind and load its initial models. */
export const START_WAIT_MS = 10 * 60 * 1000;

/**
 * `--start`: runs this CLI again with `--foreground` as a detached process (its own session, stdio to
 * `model-server.out`) and waits until it reports ready or fails. Resolves with the exit code.
 */
export async function startDetached(cliPath: string, args: string[], cwd: string, paths: RunPaths): Promise<number> {
  mkdirSync(paths.logDir, { recursive: true });
  const out = openSync(paths.stdioLog, 'a');
  const child = spawn(process.execPath, [...process.execArgv, cliPath, ...args, '--foreground'], {
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
