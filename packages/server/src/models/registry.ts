import { MODEL_NAME_PATTERN, extractArchive } from '@nodeserve/archiver';
import type { Logger } from '@nodeserve/handler-sdk';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { BadRequest, ModelConflict, ModelNotFound, ServerDraining } from '../errors.js';
import type { ServerEvents } from '../events.js';
import { locateWorkerMain } from '../workers/worker-entry.js';
import { type EngineDefaults, deviceIds, effectiveConfig } from './effective-config.js';
import { ModelVersion } from './model-version.js';
import type { ModelRegistry, ModelVersionHandle, RegisterOptions } from './types.js';

export interface ModelRegistryOptions {
  defaults: EngineDefaults;
  /** Archives are extracted into fresh directories under it (directory archives are used in place). */
  extractRoot: string;
  events: ServerEvents;
  logger: Logger;
  serverName: string;
  serverVersion: string;
  /** Cores ONNX Runtime threads are shared across; the machine's by default. */
  cpuCount?: number;
  /** Milliseconds between worker memory reports (`worker.memory`). */
  memoryReportMs?: number;
}

const MAX_MODEL_NAME_LENGTH = 128;
const DEFAULT_MEMORY_REPORT_MS = 10_000;

interface Entry {
  version: ModelVersion;
  /** The directory this registry created for the archive, removed on unregister. */
  extractDir: string | undefined;
}

interface Model {
  defaultVersion: string;
  versions: Map<string, Entry>;
}

/** Loads archives into model versions and routes names (and versions) to them. */
export function createModelRegistry(options: ModelRegistryOptions): ModelRegistry {
  const models = new Map<string, Model>();
  /** name/version pairs being registered, so two concurrent registrations cannot both pass the conflict check. */
  const pending = new Set<string>();
  const cpuCount = options.cpuCount ?? availableParallelism();
  const workerMain = locateWorkerMain();
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
    else if (model.defaultVersion === version) model.defaultVersion = [...model.versions.keys()].at(-1)!;
    await entry.version.drain();
    await cleanup(entry.extractDir);
  }

  async function register(request: RegisterOptions): Promise<ModelVersionHandle> {
    if (shuttingDown) throw new ServerDraining();
    await mkdir(options.extractRoot, { recursive: true });
    const dest = await mkdtemp(join(options.extractRoot, 'model-'));
    let extracted;
    try {
      extracted = await extractArchive(request.archive, join(dest, 'archive'));
    } catch (error) {
      await cleanup(dest);
      throw error;
    }
    // A directory archive is served where it is: nothing of ours to keep.
    const extractDir = extracted.format === 'directory' ? undefined : dest;
    if (extractDir === undefined) await cleanup(dest);
    const { manifest } = extracted;
    const name = request.modelName ?? manifest.model.modelName;
    const version = manifest.model.modelVersion;
    const key = `${name}/${version}`;
    if (name.length > MAX_MODEL_NAME_LENGTH || !MODEL_NAME_PATTERN.test(name)) {
      await cleanup(extractDir);
      throw new BadRequest(
        `invalid model name ${JSON.stringify(name)}: it must start with a letter or digit, hold only letters, digits, "_", "-" and ".", and be at most ${MAX_MODEL_NAME_LENGTH} characters`,
        'InvalidModelName',
      );
    }
    if (models.get(name)?.versions.has(version) || pending.has(key)) {
      await cleanup(extractDir);
      throw new ModelConflict(name, version);
    }
    const config = effectiveConfig(options.defaults, manifest.config, request, cpuCount);
    const modelVersion = new ModelVersion({
      name,
      manifest,
      modelDir: extracted.dir,
      archivePath: request.archive,
      config,
      fixedThreads: manifest.config.intraOpNumThreads !== undefined,
      jobQueueSize: options.defaults.jobQueueSize,
      devices: deviceIds(config, options.defaults.numberOfGpu),
      cpuCount,
      workerMain,
      workerExecArgv: options.defaults.workerMaxHeapMb === undefined ? [] : [`--max-old-space-size=${options.defaults.workerMaxHeapMb}`],
      memoryReportMs: options.memoryReportMs ?? DEFAULT_MEMORY_REPORT_MS,
      serverName: options.serverName,
      serverVersion: options.serverVersion,
      logger: options.logger,
      events: options.events,
    });
    const entry: Entry = { version: modelVersion, extractDir };
    pending.add(key);
    try {
      await modelVersion.start(request.synchronous ?? false);
    } catch (error) {
      await modelVersion.drain();
      await cleanup(extractDir);
      throw error;
    } finally {
      pending.delete(key);
    }
    if (shuttingDown) {
      await modelVersion.drain();
      await cleanup(extractDir);
      throw new ServerDraining();
    }
    const model = models.get(name);
    if (model === undefined) models.set(name, { defaultVersion: version, versions: new Map([[version, entry]]) });
    else model.versions.set(version, entry);
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
      models.get(name)!.defaultVersion = version;
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
    },
  };
}
