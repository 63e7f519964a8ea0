import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { MODEL_NAME_PATTERN } from '@nodeserve/archiver/reader';
import { ServerConfigInvalid } from '../errors.js';

export interface InitialModel {
  /** The name to serve it under; the archive's own name when not given. */
  name?: string;
  /** Absolute path of the archive (`.mar`, `.tar.gz`/`.tgz`, or an extracted archive directory). */
  archive: string;
}

/** Most archives `all` will load from one model store: a store is not a place to start hundreds of workers from by accident. */
export const MAX_INITIAL_MODELS = 64;

const ARCHIVE_FILE = /\.(mar|tar\.gz|tgz)$/;

/**
 * Resolves `--models` / `load_models`: `all` (every archive in the model store), `FILE.mar` or
 * `NAME=FILE.mar`. A relative file is looked up in the model store first, then in the working
 * directory: naming an archive outside the store is the operator's choice on the command line.
 */
export function resolveInitialModels(entries: string[], modelStore: string | undefined, cwd: string): InitialModel[] {
  if (entries.length === 1 && entries[0] === 'all') return allInStore(modelStore);
  if (entries.includes('all')) throw new ServerConfigInvalid('load_models: "all" cannot be combined with other entries');
  if (entries.length > MAX_INITIAL_MODELS) throw new ServerConfigInvalid(`load_models: at most ${MAX_INITIAL_MODELS} models can be loaded at start-up`);
  return entries.map((entry) => {
    const eq = entry.indexOf('=');
    const name = eq > 0 ? entry.slice(0, eq) : undefined;
    const file = eq > 0 ? entry.slice(eq + 1) : entry;
    if (name !== undefined && !MODEL_NAME_PATTERN.test(name)) {
      throw new ServerConfigInvalid(`load_models: "${name}" is not a valid model name (letters, digits, "_", "-", "."; starting with a letter or digit)`);
    }
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(file)) {
      throw new ServerConfigInvalid(`load_models: "${file}": only local archives are loaded at start-up; register URLs through the management API`);
    }
    return { ...(name === undefined ? {} : { name }), archive: locate(file, modelStore, cwd) };
  });
}

function locate(file: string, modelStore: string | undefined, cwd: string): string {
  const candidates = path.isAbsolute(file)
    ? [file]
    : [...(modelStore === undefined ? [] : [path.resolve(modelStore, file)]), path.resolve(cwd, file)];
  const found = candidates.find((candidate) => existsSync(candidate));
  if (found === undefined) {
    throw new ServerConfigInvalid(`Archive not found: ${file} (looked in ${candidates.map((c) => path.dirname(c)).join(' and ')})`);
  }
  return found;
}

function allInStore(modelStore: string | undefined): InitialModel[] {
  if (modelStore === undefined) throw new ServerConfigInvalid('load_models=all needs a model store (--model-store or model_store)');
  if (!existsSync(modelStore) || !statSync(modelStore).isDirectory()) throw new ServerConfigInvalid(`Model store is not a directory: ${modelStore}`);
  const archives = readdirSync(modelStore, { withFileTypes: true })
    .filter((entry) =>
      entry.isFile()
        ? ARCHIVE_FILE.test(entry.name)
        : entry.isDirectory() && existsSync(path.join(modelStore, entry.name, 'MAR-INF', 'MANIFEST.json')),
    )
    .map((entry) => ({ archive: path.join(modelStore, entry.name) }))
    .sort((a, b) => a.archive.localeCompare(b.archive));
  if (archives.length > MAX_INITIAL_MODELS) throw new ServerConfigInvalid(`Model store holds more than ${MAX_INITIAL_MODELS} archives; name the ones to load`);
  return archives;
}
