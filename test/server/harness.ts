import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/**
 * End-to-end helpers: real `model-archiver` and `model-server` processes (the built CLIs), each server
 * in its own temp directory with every address on 127.0.0.1 port 0, the bound ports read back from its
 * run-state file; real clients (curl, ab).
 */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SHARED = path.resolve(ROOT, '../shared');
export const SERVER_CLI = path.join(ROOT, 'packages/server/dist/cli.js');
export const ARCHIVER_CLI = path.join(ROOT, 'packages/archiver/dist/cli.js');
export const FIXTURES = path.join(ROOT, 'test/fixtures/server');

const exec = promisify(execFile);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A temp working directory with a config.properties binding every API to an ephemeral port. */
export function serverDir(extraConfig = ''): string {
  const cwd = mkdtempSync(path.join(tmpdir(), 'ms-e2e-'));
  writeFileSync(
    path.join(cwd, 'config.properties'),
    [
      'inference_address=http://127.0.0.1:0',
      'management_address=http://127.0.0.1:0',
      'metrics_address=http://127.0.0.1:0',
      extraConfig,
    ].join('\n'),
  );
  return cwd;
}

/** Runs `model-archiver` from the repo root (so `../shared/...` paths work) into `<cwd>/model_store`. */
export function archive(cwd: string, args: string[]): string {
  const store = path.join(cwd, 'model_store');
  const result = spawnSync(process.execPath, [ARCHIVER_CLI, ...args, '--export-path', store, '--force'], { cwd: ROOT, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`model-archiver failed: ${result.stderr}`);
  return store;
}

/**
 * Runs `model-server` with `args` in `cwd`. `env` replaces the environment (default: this process's);
 * `cli` runs another install's `model-server` (default: this repository's build).
 */
export function modelServer(
  cwd: string,
  args: string[],
  timeoutMs = 120_000,
  options: { env?: NodeJS.ProcessEnv; cli?: string } = {},
): Promise<CliResult> {
  return exec(process.execPath, [options.cli ?? SERVER_CLI, ...args], { cwd, timeout: timeoutMs, encoding: 'utf8', env: options.env ?? process.env }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({
      code: typeof error.code === 'number' ? error.code : -1,
      stdout: error.stdout ?? '',
      stderr: error.stderr ?? '',
    }),
  );
}

export interface RunState {
  pid: number;
  addresses: { inference: string; management: string; metrics: string };
  models: Array<{ name: string; version: string; ready: boolean; workers: number }>;
}

export function runState(cwd: string): RunState {
  return JSON.parse(readFileSync(path.join(cwd, 'logs/model-server.json'), 'utf8')) as RunState;
}

/** `--stop`, then SIGKILL whatever is left (a failed test must not leave servers behind). */
export async function stopAndClean(cwd: string, cli?: string): Promise<void> {
  await modelServer(cwd, ['--stop', '--timeout', '30'], 120_000, cli === undefined ? {} : { cli });
  const pidFile = path.join(cwd, 'logs/model-server.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export interface HttpResult {
  status: number;
  body: string;
  headers: Record<string, string>;
}

/** One request with curl; `-D -` puts the response headers before the body. */
export async function curl(args: string[]): Promise<HttpResult> {
  const { stdout } = await exec('curl', ['-s', '-S', '--max-time', '60', '-D', '-', ...args], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  const blocks = stdout.split('\r\n\r\n');
  // Skip `HTTP/1.1 100 Continue` blocks: the final response is the last header block.
  let i = 0;
  while (/^HTTP\/[\d.]+ 100/.test(blocks[i] ?? '') && i < blocks.length - 1) i++;
  const head = blocks[i] ?? '';
  const body = blocks.slice(i + 1).join('\r\n\r\n');
  const [statusLine, ...headerLines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const at = line.indexOf(':');
    if (at > 0) headers[line.slice(0, at).toLowerCase()] = line.slice(at + 1).trim();
  }
  return { status: Number(statusLine?.split(' ')[1]), body, headers };
}

export interface AbResult {
  complete: number;
  failed: number;
  keepAlive: number;
  non2xx: number;
}

/** Apache Bench, as the MMS tutorial runs it; bounded by `-s` (per-request timeout) and `-t`-free counts. */
export async function ab(args: string[]): Promise<AbResult> {
  const { stdout } = await exec('ab', ['-s', '60', ...args], { encoding: 'utf8', maxBuffer: 4 * 1024 * 1024 });
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(stdout)?.[1] ?? 0);
  return {
    complete: field('Complete requests'),
    failed: field('Failed requests'),
    keepAlive: field('Keep-Alive requests'),
    non2xx: field('Non-2xx responses'),
  };
}
