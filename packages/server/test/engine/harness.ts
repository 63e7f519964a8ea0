import { ManifestSchema, type ModelConfig } from '@nodeserve/archiver';
import type { Logger, RequestInput } from '@nodeserve/handler-sdk';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ServerEvents } from '../../src/events.js';
import {
  type EngineDefaults, type InferenceRequest, type ModelRegistry, type ModelRegistryOptions, type ModelVersionHandle,
  createModelRegistry,
} from '../../src/models/index.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

export interface ArchiveSpec {
  name: string;
  version?: string;
  exportName?: string;
  config?: ModelConfig;
}

/**
 * A directory archive of one handler fixture, in a fresh directory under the system temp dir: outside
 * the repository, so the handler's bare imports resolve only through the worker's fallback to the server.
 */
export async function buildArchive(root: string, fixture: string, spec: ArchiveSpec): Promise<string> {
  const dir = await mkdtemp(join(root, `${spec.name}-`));
  const bundle = 'handler.mjs';
  await copyFile(join(FIXTURES, fixture), join(dir, bundle));
  const bytes = await readFile(join(dir, bundle));
  const manifest = ManifestSchema.parse({
    createdOn: '25/11/2026 04:00:00',
    runtime: 'node',
    archiverVersion: '0.1.0',
    specificationVersion: '1.0',
    model: { modelName: spec.name, modelVersion: spec.version ?? '1.0', handler: `${fixture}:${spec.exportName ?? 'handle'}` },
    entryPoint: { bundle, exportName: spec.exportName ?? 'handle', source: fixture },
    config: spec.config ?? {},
    files: { [bundle]: { size: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') } },
  });
  await mkdir(join(dir, 'MAR-INF'));
  await writeFile(join(dir, 'MAR-INF', 'MANIFEST.json'), JSON.stringify(manifest, null, 2));
  return dir;
}

export interface LogLine {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}

export interface Engine {
  registry: ModelRegistry;
  events: ServerEvents;
  logs: LogLine[];
  root: string;
  archive(fixture: string, spec: ArchiveSpec): Promise<string>;
  /** Builds the fixture's archive and registers it with one worker, once that worker is ready. */
  register(fixture: string, spec: ArchiveSpec): Promise<ModelVersionHandle>;
  close(): Promise<void>;
}

export const TEST_DEFAULTS: EngineDefaults = {
  workers: 1,
  batchSize: 1,
  maxBatchDelay: 100,
  responseTimeout: 30,
  startupTimeout: 60,
  jobQueueSize: 100,
  numberOfGpu: 0,
};

/** A registry over a fresh temp directory (extractions and caches inside it); `options` override the registry's. */
export async function startEngine(
  defaults: Partial<EngineDefaults> = {}, cpuCount?: number, options: Partial<ModelRegistryOptions> = {},
): Promise<Engine> {
  const root = await mkdtemp(join(tmpdir(), 'nodeserve-engine-'));
  const events = new ServerEvents();
  const logs: LogLine[] = [];
  const record = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    logs.push(fields === undefined ? { level, msg } : { level, msg, fields });
  };
  const logger: Logger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };
  const registry = createModelRegistry({
    defaults: { ...TEST_DEFAULTS, ...defaults },
    extractRoot: join(root, 'extracted'),
    cacheRoot: join(root, 'cache'),
    events,
    logger,
    serverName: 'nodeserve',
    serverVersion: '0.1.0',
    ...(cpuCount === undefined ? {} : { cpuCount }),
    ...options,
  });
  return {
    registry,
    events,
    logs,
    root,
    archive: (fixture, spec) => buildArchive(root, fixture, spec),
    register: async (fixture, spec) =>
      registry.register({ archive: await buildArchive(root, fixture, spec), initialWorkers: 1, synchronous: true }),
    async close() {
      await registry.shutdown();
      await rm(root, { recursive: true, force: true });
    },
  };
}

let seq = 0;

export function request(body: string | Uint8Array, extra: Partial<RequestInput> = {}): InferenceRequest {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  seq++;
  return {
    api: 'predictions',
    receivedAt: performance.now(),
    input: { requestId: `req-${seq}`, body: bytes, data: bytes, form: {}, headers: {}, query: {}, ...extra },
  };
}

/** Parses a JSON outcome's body. */
export function json<T = Record<string, unknown>>(outcome: { kind: string; body?: Buffer }): T {
  if (outcome.kind !== 'json' || outcome.body === undefined) throw new Error(`expected a JSON outcome, got ${outcome.kind}`);
  return JSON.parse(outcome.body.toString('utf8')) as T;
}
