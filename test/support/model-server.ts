import { execFile, spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createArchive } from '@nodeserve/archiver';
import { readPid, readRunState, runPaths, type RunState } from '@nodeserve/server/run-state';
import { REPO_ROOT, SHARED_IMAGES, SHARED_MODELS } from './imagenet-reference.js';

/**
 * The one harness for tests that run real `model-archiver` and `model-server` processes (the built
 * CLIs; `npm test` builds first): each server in its own temp directory with every address (gRPC's
 * too) on 127.0.0.1 port 0, the bound ports read back with the server's own run-state reader; real clients
 * (curl, ab, fetch).
 */
export const ROOT = REPO_ROOT;
export const SHARED = path.resolve(ROOT, '../shared');
export const SERVER_CLI = path.join(ROOT, 'packages/server/dist/cli.js');
export const ARCHIVER_CLI = path.join(ROOT, 'packages/archiver/dist/cli.js');
/** Small handlers (echo, slow, misbehaving…) as plain ESM, archived with `archive()`. */
export const FIXTURES = path.join(ROOT, 'test/fixtures/server');
export const KITTEN = path.join(SHARED_IMAGES, 'kitten.jpg');
export const DOG = path.join(SHARED_IMAGES, 'dog.jpg');

const exec = promisify(execFile);

/** Whether a process runs (a zombie does not), as `model-server --stop` judges it. */
export { isAlive } from '../../packages/server/src/lifecycle/process-check.js';

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
      'grpc_inference_address=127.0.0.1:0',
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

/** The run state of the server started in `cwd` (its `logs/` directory), once it is running. */
export function runState(cwd: string): RunState & { addresses: NonNullable<RunState['addresses']> } {
  const state = readRunState(runPaths({ cwd, env: {} }));
  if (state?.addresses === undefined) throw new Error(`no running model-server in ${cwd}`);
  return state as RunState & { addresses: NonNullable<RunState['addresses']> };
}

/** `--stop`, then SIGKILL whatever is left (a failed test must not leave servers behind). */
export async function stopAndClean(cwd: string, cli?: string): Promise<void> {
  await modelServer(cwd, ['--stop', '--timeout', '30'], 120_000, cli === undefined ? {} : { cli });
  const pid = readPid(runPaths({ cwd, env: {} }));
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export interface ModelServer {
  dir: string;
  store: string;
  inference: string;
  management: string;
  metrics: string;
  /** The gRPC inference service, `127.0.0.1:PORT`. */
  grpcInference: string;
  stop(): Promise<void>;
}

/**
 * Builds the MobileNetV2 image classifier archive (the resnet50 example's handler with the shared
 * int8 model) into `store`, as `model-archiver` does. Returns the file name inside the store.
 */
export async function buildClassifierArchive(store: string, options: { name?: string; version?: string; fileName?: string } = {}): Promise<string> {
  const out = await mkdtemp(path.join(tmpdir(), 'nodeserve-mar-'));
  try {
    const { path: built } = await createArchive({
      modelName: options.name ?? 'mobilenet',
      version: options.version ?? '1.0',
      handler: path.join(ROOT, 'examples/resnet50/img_classifier_service.ts'),
      serializedFile: path.join(SHARED_MODELS, 'mobilenetv2-12-int8.onnx'),
      extraFiles: [path.join(SHARED_MODELS, 'index_to_name.json')],
      exportPath: out,
      cwd: path.join(ROOT, 'examples/resnet50'),
    });
    const fileName = options.fileName ?? `${options.name ?? 'mobilenet'}-${options.version ?? '1.0'}.mar`;
    await writeFile(path.join(store, fileName), await readFile(built));
    return fileName;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

/**
 * Archives a small handler module (one of `FIXTURES`, or any file) as `<name>.mar` in `store`, with
 * the model config file `configFile` if given.
 */
export async function archiveHandler(
  store: string,
  handler: string,
  options: { name: string; version?: string; configFile?: string; fileName?: string },
): Promise<string> {
  const out = await mkdtemp(path.join(tmpdir(), 'nodeserve-mar-'));
  try {
    const { path: built } = await createArchive({
      modelName: options.name,
      version: options.version ?? '1.0',
      handler,
      exportPath: out,
      cwd: ROOT,
      ...(options.configFile === undefined ? {} : { configFile: options.configFile }),
    });
    const fileName = options.fileName ?? `${options.name}.mar`;
    await writeFile(path.join(store, fileName), await readFile(built));
    return fileName;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1 (for tests that must name a port, not ask for 0). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Starts `model-server --start` in its own scratch directory with every address on 127.0.0.1 and an
 * ephemeral port, a model store in it, and `config` written to its config.properties (backslashes
 * escaped, as a properties file needs). `prepare` fills the model store before the server starts.
 */
export async function startModelServer(options: {
  config?: Record<string, string | number | boolean>;
  models?: string[];
  prepare?: (store: string) => Promise<void>;
  /** Environment of the server (default: this process's). */
  env?: NodeJS.ProcessEnv;
}): Promise<ModelServer & { startOutput: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'nodeserve-api-'));
  const store = path.join(dir, 'store');
  await mkdir(store);
  await options.prepare?.(store);
  const config = {
    inference_address: 'http://127.0.0.1:0',
    management_address: 'http://127.0.0.1:0',
    metrics_address: 'http://127.0.0.1:0',
    grpc_inference_address: '127.0.0.1:0',
    model_store: store,
    default_workers_per_model: 1,
    ...options.config,
  };
  await writeFile(path.join(dir, 'config.properties'), Object.entries(config).map(([k, v]) => `${k}=${String(v).replace(/\\/g, '\\\\')}`).join('\n') + '\n');
  const started = await modelServer(
    dir,
    ['--start', '--config', 'config.properties', ...(options.models?.length ? ['--models', ...options.models] : [])],
    90_000,
    options.env === undefined ? {} : { env: options.env },
  );
  if (started.code !== 0) {
    const log = await readFile(path.join(dir, 'logs/model-server.log'), 'utf8').catch(() => '');
    await rm(dir, { recursive: true, force: true });
    throw new Error(`model-server did not start:\n${started.stdout}${started.stderr}\n${log.slice(-4000)}`);
  }
  const { addresses } = runState(dir);
  return {
    dir,
    store,
    ...addresses,
    metrics: addresses.metrics ?? '',
    grpcInference: addresses.grpcInference ?? '',
    startOutput: started.stdout + started.stderr,
    async stop() {
      await stopAndClean(dir);
      await rm(dir, { recursive: true, force: true });
    },
  };
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

/** The value of one Prometheus sample, or undefined when the series is absent. */
export function metricValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelPart = line.slice(name.length).split('}')[0] ?? '';
    if (wanted.every((w) => labelPart.includes(w))) return Number(line.split(' ').pop());
  }
  return undefined;
}

/** Top-k labels of a classifier answer (`[{"tabby": 0.45}, …]`), in order. */
export function classes(answer: unknown): string[] {
  return (answer as Array<Record<string, number>>).map((entry) => Object.keys(entry)[0] ?? '');
}
