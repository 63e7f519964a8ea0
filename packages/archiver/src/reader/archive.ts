import { lstat, open, readFile, stat, mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { ArchiveDestination, ArchiveLink, ArchiveTooLarge, ArchiveUnreadable, ManifestMissing } from '../errors.js';
import { MANIFEST_PATH, type Manifest } from '../manifest/schema.js';
import { ContentCheck, MAX_MANIFEST_BYTES, parseManifest } from './contents.js';
import { directoryEntries } from './directory.js';
import type { ArchiveEntry, WalkedFile } from './entries.js';
import { resolveLimits, type ArchiveLimits } from './limits.js';
import { tgzEntries } from './tgz.js';
import { zipEntries } from './zip.js';

export type ArchiveFormat = 'zip' | 'tgz' | 'directory';

/** A directory is served in place; `.tar.gz`/`.tgz` or gzip's magic bytes mean tgz; anything else must be a zip. */
export async function detectFormat(source: string): Promise<ArchiveFormat> {
  let stats;
  try {
    stats = await stat(source);
  } catch (err) {
    throw new ArchiveUnreadable(`cannot read ${source}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (stats.isDirectory()) return 'directory';
  if (!stats.isFile()) throw new ArchiveUnreadable(`${source} is neither a file nor a directory`);
  if (/\.(tar\.gz|tgz)$/i.test(source)) return 'tgz';
  const fh = await open(source, 'r');
  try {
    const magic = Buffer.alloc(2);
    await fh.read(magic, 0, 2, 0);
    return magic[0] === 0x1f && magic[1] === 0x8b ? 'tgz' : 'zip';
  } finally {
    await fh.close();
  }
}

function walk(format: ArchiveFormat, source: string, limits: ArchiveLimits): AsyncGenerator<WalkedFile> {
  if (format === 'directory') return directoryEntries(source, limits);
  if (format === 'tgz') return tgzEntries(source, limits);
  return zipEntries(source, limits, MANIFEST_PATH);
}

/** Validates everything (paths, links, limits, manifest, files present, sha256) without writing anything. */
export async function inspectArchive(
  source: string,
  limits?: Partial<ArchiveLimits>,
): Promise<{ format: ArchiveFormat; manifest: Manifest; entries: ArchiveEntry[] }> {
  const resolved = resolveLimits(limits);
  const format = await detectFormat(source);
  const check = new ContentCheck();
  for await (const file of walk(format, source, resolved)) await check.consume(file);
  const manifest = check.finish();
  return { format, manifest, entries: check.entries };
}

/**
 * The manifest alone, parsed and validated, without checking or reading the rest: enough to learn an
 * archive's name, version and model config before registering it (the registration then reads the
 * whole archive with every check). A zip's manifest comes straight from its central directory, a
 * directory's from its file; a tgz is streamed up to it.
 */
export async function readManifest(source: string, limits?: Partial<ArchiveLimits>): Promise<Manifest> {
  const resolved = resolveLimits(limits);
  const format = await detectFormat(source);
  if (format === 'directory') {
    const file = join(source, MANIFEST_PATH);
    const stats = await lstat(file).catch(() => undefined);
    if (stats === undefined) throw new ManifestMissing(MANIFEST_PATH);
    if (!stats.isFile()) throw new ArchiveLink(MANIFEST_PATH, stats.isSymbolicLink() ? 'symbolic link' : 'special file');
    if (stats.size > MAX_MANIFEST_BYTES) throw new ArchiveTooLarge(`${MANIFEST_PATH} is over ${MAX_MANIFEST_BYTES} bytes`);
    return parseManifest(await readFile(file));
  }
  for await (const file of walk(format, source, resolved)) {
    if (file.path !== MANIFEST_PATH) {
      // Each entry must be drained before the walker moves on (a zip yields its manifest first).
      for await (const chunk of file.chunks) void chunk;
      continue;
    }
    if (file.size > MAX_MANIFEST_BYTES) throw new ArchiveTooLarge(`${MANIFEST_PATH} is over ${MAX_MANIFEST_BYTES} bytes`);
    const kept: Buffer[] = [];
    let size = 0;
    for await (const chunk of file.chunks) {
      size += chunk.length;
      if (size > MAX_MANIFEST_BYTES) throw new ArchiveTooLarge(`${MANIFEST_PATH} is over ${MAX_MANIFEST_BYTES} bytes`);
      kept.push(chunk);
    }
    return parseManifest(Buffer.concat(kept));
  }
  throw new ManifestMissing(MANIFEST_PATH);
}

/**
 * Extracts into `destDir` (created; must be empty or absent), never writing outside it, checking
 * sizes and sha256 as it writes; removes what it wrote on any failure. A directory archive is
 * validated in place and returned as `dir`, without a copy.
 */
export async function extractArchive(
  source: string,
  destDir: string,
  limits?: Partial<ArchiveLimits>,
): Promise<{ format: ArchiveFormat; manifest: Manifest; dir: string }> {
  const resolved = resolveLimits(limits);
  const format = await detectFormat(source);
  if (format === 'directory') {
    const { manifest } = await inspectArchive(source, resolved);
    return { format, manifest, dir: resolve(source) };
  }
  const dest = resolve(destDir);
  const created = await prepareDestination(dest);
  const check = new ContentCheck();
  try {
    for await (const file of walk(format, source, resolved)) {
      const target = resolve(dest, file.path);
      if (!target.startsWith(dest + sep)) throw new ArchiveDestination(dest, `"${file.path}" resolves outside it`);
      await mkdir(dirname(target), { recursive: true });
      // 'wx': never follow or replace something already there.
      const fh = await open(target, 'wx', 0o644);
      try {
        await check.consume(file, async (chunk) => {
          await fh.write(chunk);
        });
      } finally {
        await fh.close();
      }
    }
    const manifest = check.finish();
    return { format, manifest, dir: dest };
  } catch (err) {
    await removeWritten(dest, created);
    throw err;
  }
}

async function prepareDestination(dest: string): Promise<boolean> {
  try {
    const entries = await readdir(dest);
    if (entries.length > 0) throw new ArchiveDestination(dest, 'it is not empty');
    return false;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      if (err instanceof ArchiveDestination) throw err;
      throw new ArchiveDestination(dest, (err as Error).message);
    }
  }
  await mkdir(dest, { recursive: true });
  return true;
}

async function removeWritten(dest: string, created: boolean): Promise<void> {
  if (created) {
    await rm(dest, { recursive: true, force: true });
    return;
  }
  for (const name of await readdir(dest)) await rm(join(dest, name), { recursive: true, force: true });
}
