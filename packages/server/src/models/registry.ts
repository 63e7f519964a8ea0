import { MODEL_NAME_PATTERN, extractArchive } from '@nodeserve/archiver/reader';
import type { Logger } from '@nodeserve/handler-sdk';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';
import { cacheDirFor, defaultCacheRoot } from './cache-dir.js';
import { createRunDir } from './run-dir.js';
import { InvalidModelName, ModelConflict, ModelNotFound, ServerDraining } from '../errors.js';
import type { ServerEvents } from '../events.js';
import { locateWorkerMain } from '../workers/worker-entry.js';
import { type EngineDefaults, deviceIds, effectiveConfig } from './effective-config.js';
import { ModelVersion } from './model-version.js';
import { compareVersions, highestVersion } from './versions.js';
import type { ModelRegistry, ModelVersionHandle, RegisterOptions } from './types.js';

export interface ModelRegistryOptions {
  defaults: EngineDefaults;
  /**
   * A server-owned directory, shared by every server of this user: each registry extracts archives
   * under its own `<pid>-<random>` directory in it (directory archives are used in place), removes that
   * on shutdown, and on creation removes those left by servers that no longer run.
   */
  extractRoot: string;
  /** Where each model version's cache directory lives; `$XDG_CACHE_HOME/nodeserve/models` or `~/.cache/nodeserve/models`. */
  cacheRoot?: string;
  events: ServerEvents;
  logger: Logger;
  serverName: string;
  serverVersion: string;
  /** Cores ONNX Runtime threads are shared across; the machine's by default. */
  cpuCount?: number;
  /** Memory the default worker count must fit in; the machine's by default. */
  memoryBytes?: number;
  /** Milliseconds between worker memory reports (`worker.memory`). */
  memoryReportMs?: number;
}

const MAX_MODEL_NAME_LENGTH = 128;

/**
 * The old generation a worker starts with, in MiB. V8 sizes its first old-space limits from the
 * live heap (a worker's is ~15 MB) and collects when GC takes ~3 % of wall time, idle included; each
 * request allocates megabytes of decoded pixels and tensors, so a worker ran a mark-compact every few
 * dozen requests. With 64 MiB: 9.5–10.0 ms of worker CPU per MobileNet v2 int8 request instead of
 * 10.7 (2,000 requests, docs/server.md).
 */
const WORKER_INITIAL_OLD_SPACE_MB = 64;

function workerExecArgv(maxHeapMb: number | undefined): string[] {
  if (maxHeapMb === undefined) return [`--initial-old-space-size=${WORKER_INITIAL_OLD_SPACE_MB}`];
  return [`--initial-old-space-size=${Math.min(WORKER_INITIAL_OLD_SPACE_MB, maxHeapMb)}`, `--max-old-space-size=${maxHeapMb}`];
}

const DEFAULT_MEMORY_REPORT_MS = 10_000;

interface Entry {
  version: ModelVersion;
  /** The directory this registry created for the archive, removed on unregister. */
  extractDir: string | undefined;
}

interface Model {
  defaultVersion: string;
  /** Chosen by set-default: start-up loading and unregistering no longer move it. */
  defaultSetExplicitly: boolean;
  versions: Map<string, Entry>;
}

/** Loads archives into model versions and routes names (and versions) to them. */
export function createModelRegistry(options: ModelRegistryOptions): ModelRegistry {
  const models = new Map<string, Model>();
  /** name/version pairs being registered, so two concurrent registrations cannot both pass the conflict check. */
  const pending = new Set<string>();
  const cpuCount = options.cpuCount ?? availableParallelism();
  const workerMain = locateWorkerMain();
  const cacheRoot = options.cacheRoot ?? defaultCacheRoot();
  const run = createRunDir(options.extractRoot);
  for (const stale of run.removedStale) options.logger.info(`removed ${stale}, left by a server that no longer runs`);
  let shuttingDown = false;

  function find(name: string, version?: string): Entry {
    const model = models.get(name);
    const entry = model?.versions.get(version ?? model.defaultVersion);
    if (entry === undefined) throw new ModelNotFound(name, version);
    return entry;
  }

  async function cleanup(dir: string | undefined): Promise<void> {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }

  async function remove(name: string, entry: Entry): Promise<void> {
    const model = models.get(name);
    if (model === undefined) return;
    const { version } = entry.version;
    model.versions.delete(version);
    if (model.versions.size === 0) models.delete(name);
    else if (model.defaultVersion === version) model.defaultVersion = highestVersion(model.versions.keys())!;
    await entry.version.drain();
    await cleanup(entry.extractDir);
  }

  function checkName(name: string): void {
    if (name.length > MAX_MODEL_NAME_LENGTH || !MODEL_NAME_PATTERN.test(name)) {
      throw new InvalidModelName(name, MAX_MODEL_NAME_LENGTH);
    }
  }

  /**
   * Unpacks the archive under this registry's run directory. The archiver offers no manifest read short
   * of verifying the whole archive, so the name and version are known only once it is extracted.
   */
  async function extract(archive: string): Promise<{ extracted: Awaited<ReturnType<typeof extractArchive>>; extractDir: string | undefined }> {
    const dest = await mkdtemp(join(run.dir, 'model-'));
    let extracted;
    try {
      extracted = await extractArchive(archive, join(dest, 'archive'));
    } catch (error) {
      await cleanup(dest);
      throw error;
    }
    // A directory archive is served where it is: nothing of ours to keep.
    if (extracted.format === 'directory') {
      await cleanup(dest);
      return { extracted, extractDir: undefined };
    }
    return { extracted, extractDir: dest };
  }

  async function register(request: RegisterOptions): Promise<ModelVersionHandle> {
    if (shuttingDown) throw new ServerDraining();
    // Refused before any byte is extracted.
    if (request.modelName !== undefined) checkName(request.modelName);
    const { extracted, extractDir } = await extract(request.archive);
    const { manifest } = extracted;
    const name = request.modelName ?? manifest.model.modelName;
    const version = manifest.model.modelVersion;
    const key = `${name}/${version}`;
    try {
      checkName(name);
      if (models.get(name)?.versions.has(version) || pending.has(key)) throw new ModelConflict(name, version);
    } catch (error) {
      await cleanup(extractDir);
      throw error;
    }
    // Reserved from here on, so a concurrent registration of the same name and version is refused.
    pending.add(key);
    let modelVersion: ModelVersion | undefined;
    try {
      if (request.startAfter !== undefined) await request.startAfter;
      if (shuttingDown) throw new ServerDraining();
      const modelBytes = Object.values(manifest.files).reduce((sum, file) => sum + file.size, 0);
      const config = effectiveConfig(options.defaults, manifest.config, request, { cpuCount, memoryBytes: options.memoryBytes ?? totalmem(), modelBytes });
      modelVersion = new ModelVersion({
        name,
        manifest,
        modelDir: extracted.dir,
        cacheDir: await cacheDirFor(cacheRoot, name, manifest),
        archivePath: request.archive,
        config,
        fixedThreads: manifest.config.intraOpNumThreads !== undefined,
        jobQueueSize: options.defaults.jobQueueSize,
        devices: deviceIds(config, options.defaults.numberOfGpu),
        cpuCount,
        workerMain,
        workerExecArgv: workerExecArgv(options.defaults.workerMaxHeapMb),
        memoryReportMs: options.memoryReportMs ?? DEFAULT_MEMORY_REPORT_MS,
        serverName: options.serverName,
        serverVersion: options.serverVersion,
        logger: options.logger,
        events: options.events,
      });
      await modelVersion.start(request.synchronous ?? false);
      if (shuttingDown) throw new ServerDraining();
    } catch (error) {
      await modelVersion?.drain();
      await cleanup(extractDir);
      throw error;
    } finally {
      pending.delete(key);
    }
    const entry: Entry = { version: modelVersion, extractDir };
    const model = models.get(name);
    if (model === undefined) {
      models.set(name, { defaultVersion: version, defaultSetExplicitly: false, versions: new Map([[version, entry]]) });
    } else {
      model.versions.set(version, entry);
      // Start-up models finish loading in any order: the highest version is their default, every start.
      if (request.initial === true && !model.defaultSetExplicitly && compareVersions(version, model.defaultVersion) > 0) {
        model.defaultVersion = version;
      }
    }
    options.events.emit('model.registered', { model: name, version });
    return modelVersion;
  }

  return {
    register,

    async unregister(name, version) {
      const entry = find(name, version);
      await remove(name, entry);
      options.events.emit('model.unregistered', { model: name, version: entry.version.version });
    },

    setDefault(name, version) {
      find(name, version);
      const model = models.get(name)!;
      model.defaultVersion = version;
      model.defaultSetExplicitly = true;
    },

    resolve(name, version) {
      return find(name, version).version;
    },

    list() {
      return [...models].map(([name, model]) => ({
        name,
        defaultVersion: model.defaultVersion,
        versions: [...model.versions.values()].map((e) => e.version),
      }));
    },

    isHealthy() {
      for (const model of models.values()) {
        for (const entry of model.versions.values()) if (!entry.version.isHealthy()) return false;
      }
      return true;
    },

    async shutdown() {
      shuttingDown = true;
      const all = [...models].flatMap(([name, model]) => [...model.versions.values()].map((entry) => ({ name, entry })));
      await Promise.all(all.map(({ name, entry }) => remove(name, entry)));
      await cleanup(run.dir);
    },
  };
}
