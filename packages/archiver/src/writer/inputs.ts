import { readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { InputInvalid, InputMissing } from '../errors.js';
import { DEFAULT_ARCHIVE_LIMITS } from '../reader/limits.js';
import { expandGlob, isGlob } from './glob.js';

/** A file to archive: where it comes from and where it goes inside the archive. */
export interface InputFile {
  archivePath: string;
  source: string;
  size: number;
}

/** What MMS and TorchServe leave out when they walk a model directory, plus our own clutter. */
function isExcluded(name: string): boolean {
  return name.startsWith('.') || name === '__MACOSX' || name === '__pycache__' || name === 'node_modules' || name === 'MAR-INF' || name.endsWith('.mar');
}

const MAX_DEPTH = 32;

/** Every file under `dir`, keeping its relative path. Links are followed: the archive holds their content. */
export async function collectDirectory(dir: string, prefix = '', depth = 0): Promise<InputFile[]> {
  if (depth > MAX_DEPTH) throw new InputInvalid(`${dir} is nested more than ${MAX_DEPTH} levels deep`);
  const files: InputFile[] = [];
  for (const name of (await readdir(dir)).sort()) {
    if (isExcluded(name)) continue;
    const source = join(dir, name);
    const stats = await stat(source).catch(() => undefined);
    if (!stats) throw new InputMissing(`${source} cannot be read (a dangling link?)`);
    const archivePath = prefix === '' ? name : `${prefix}/${name}`;
    if (stats.isDirectory()) files.push(...(await collectDirectory(source, archivePath, depth + 1)));
    else if (stats.isFile()) files.push({ archivePath, source, size: stats.size });
    if (files.length > DEFAULT_ARCHIVE_LIMITS.maxEntries) {
      throw new InputInvalid(`${dir} holds more than ${DEFAULT_ARCHIVE_LIMITS.maxEntries} files`);
    }
  }
  return files;
}

/** A file, or a directory whose contents go to the archive root (TorchServe copies directories flattened). */
export async function collectPath(path: string, what: string): Promise<InputFile[]> {
  const stats = await stat(path).catch(() => undefined);
  if (!stats) throw new InputMissing(`${what} ${path} does not exist`);
  if (stats.isDirectory()) return collectDirectory(path);
  return [{ archivePath: basename(path), source: path, size: stats.size }];
}

/** `--extra-files a,b,c`: globs allowed (one that matches nothing is reported); a missing plain path is an error. */
export async function collectExtraFiles(items: string[], cwd: string, warn: (msg: string) => void): Promise<InputFile[]> {
  const files: InputFile[] = [];
  for (const item of items) {
    if (!isGlob(item)) {
      files.push(...(await collectPath(resolve(cwd, item), 'extra file')));
      continue;
    }
    const matches = await expandGlob(item, cwd);
    if (matches.length === 0) warn(`--extra-files pattern "${item}" matches no file`);
    for (const match of matches) files.push(...(await collectPath(match, 'extra file')));
  }
  return files;
}
