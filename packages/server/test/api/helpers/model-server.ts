import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createArchive } from '@nodeserve/archiver';

const run = promisify(execFile);

export const REPO = fileURLToPath(new URL('../../../../../', import.meta.url));
export const SHARED = join(REPO, '../shared');
export const CLI = join(REPO, 'packages/server/dist/cli.js');
export const KITTEN = join(SHARED, 'images/kitten.jpg');
export const DOG = join(SHARED, 'images/dog.jpg');

export interface ModelServer {
  dir: string;
  store: string;
  inference: string;
  management: string;
  metrics: string;
  stop(): Promise<void>;
}

/**
 * Builds the MobileNetV2 image classifier archive (the resnet50 example's handler with the shared
 * int8 model) into `store`, as `model-archiver` does. Returns the file name inside the store.
 */
export async function buildClassifierArchive(store: string, options: { name?: string; version?: string; fileName?: string } = {}): Promise<string> {
  const out = await mkdtemp(join(tmpdir(), 'nodeserve-mar-'));
  try {
    const { path } = await createArchive({
      modelName: options.name ?? 'mobilenet',
      version: options.version ?? '1.0',
      handler: join(REPO, 'examples/resnet50/img_classifier_service.ts'),
      serializedFile: join(SHARED, 'models/mobilenetv2-12-int8.onnx'),
      extraFiles: [join(SHARED, 'models/index_to_name.json')],
      exportPath: out,
      cwd: join(REPO, 'examples/resnet50'),
    });
    const fileName = options.fileName ?? `${options.name ?? 'mobilenet'}-${options.version ?? '1.0'}.mar`;
    await writeFile(join(store, fileName), await readFile(path));
    return fileName;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

/**
 * Starts `model-server --start` in its own scratch directory with every address on 127.0.0.1 and an
 * ephemeral port, and reads the bound ports from the run-state file. Config values are written as
 * given (backslashes escaped, as a properties file needs). `prepare` fills the model store
 * before the server starts.
 */
export async function startModelServer(options: {
  config?: Record<string, string | number | boolean>;
  models?: string[];
  prepare?: (store: string) => Promise<void>;
}): Promise<ModelServer> {
  const dir = await mkdtemp(join(tmpdir(), 'nodeserve-api-'));
  const store = join(dir, 'store');
  await mkdir(store);
  await options.prepare?.(store);
  const config = {
    inference_address: 'http://127.0.0.1:0',
    management_address: 'http://127.0.0.1:0',
    metrics_address: 'http://127.0.0.1:0',
    model_store: store,
    default_workers_per_model: 1,
    ...options.config,
  };
  await writeFile(join(dir, 'config.properties'), Object.entries(config).map(([k, v]) => `${k}=${String(v).replace(/\\/g, '\\\\')}`).join('\n') + '\n');
  const args = [CLI, '--start', '--config', 'config.properties', ...(options.models?.length ? ['--models', ...options.models] : [])];
  try {
    await run(process.execPath, args, { cwd: dir, timeout: 90_000 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    const log = await readFile(join(dir, 'logs/model-server.log'), 'utf8').catch(() => '');
    await rm(dir, { recursive: true, force: true });
    throw new Error(`model-server did not start:\n${e.stdout ?? ''}${e.stderr ?? ''}\n${log.slice(-4000)}`);
  }
  const state = JSON.parse(await readFile(join(dir, 'logs/model-server.json'), 'utf8')) as {
    pid: number;
    addresses: { inference: string; management: string; metrics: string };
  };
  return {
    dir,
    store,
    ...state.addresses,
    async stop() {
      await run(process.execPath, [CLI, '--stop'], { cwd: dir, timeout: 60_000 }).catch(() => {
        try {
          process.kill(state.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      });
      await rm(dir, { recursive: true, force: true });
    },
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
