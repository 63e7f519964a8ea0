import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { ZipArchive } from 'archiver';
import { pack } from 'tar-stream';
import { MANIFEST_PATH } from '../manifest/schema.js';
import { PROGRESS_FROM_BYTES, progressStream, type ArchiveProgress } from './progress.js';

/** One file of the archive: read from disk, or generated (the bundle, its map). */
export interface ArchiveItem {
  archivePath: string;
  size: number;
  source?: string;
  data?: Buffer;
  store: boolean;
}

export interface EmitOptions {
  items: ArchiveItem[];
  manifest: Buffer;
  onProgress?: ((p: ArchiveProgress) => void) | undefined;
}

function open(item: ArchiveItem, onProgress: EmitOptions['onProgress']): Readable {
  if (item.data) return PassThrough.from(item.data);
  const stream = createReadStream(item.source as string);
  if (!onProgress || item.size < PROGRESS_FROM_BYTES) return stream;
  return stream.pipe(progressStream(item.archivePath, item.size, onProgress));
}

/** The manifest goes first, so a streaming reader can check every later entry as it arrives. */
export async function emitZip(target: string, { items, manifest, onProgress }: EmitOptions, storeAll: boolean): Promise<void> {
  const zip = new ZipArchive({ zlib: { level: 6 } });
  const written = pipeline(zip, createWriteStream(target, { flags: 'wx' }));
  const date = new Date();
  zip.append(manifest, { name: MANIFEST_PATH, store: storeAll, date, mode: 0o644 });
  for (const item of items) zip.append(open(item, onProgress), { name: item.archivePath, store: storeAll || item.store, date, mode: 0o644 });
  await Promise.all([zip.finalize(), written]);
}

/**
 * TorchServe's layout: every entry under `<modelName>/`. One gzip stream covers everything, so
 * an archive that carries weights uses the fastest level: they barely compress anyway.
 */
export async function emitTgz(target: string, modelName: string, { items, manifest, onProgress }: EmitOptions): Promise<void> {
  const tar = pack();
  const level = items.some((i) => i.store) ? 1 : 6;
  const written = pipeline(tar, createGzip({ level }), createWriteStream(target, { flags: 'wx' }));
  const mtime = new Date();
  const entry = (name: string, size: number) => tar.entry({ name: `${modelName}/${name}`, size, mode: 0o644, mtime, type: 'file' });
  try {
    await pipeline(PassThrough.from(manifest), entry(MANIFEST_PATH, manifest.length));
    for (const item of items) await pipeline(open(item, onProgress), entry(item.archivePath, item.size));
    tar.finalize();
  } catch (err) {
    tar.destroy(err as Error);
    await written.catch(() => undefined);
    throw err;
  }
  await written;
}

/** `no-archive`: the files laid out in a directory, as the server would extract them. */
export async function emitDirectory(target: string, { items, manifest }: EmitOptions): Promise<void> {
  await mkdir(target);
  const place = async (path: string) => {
    const file = join(target, path);
    await mkdir(dirname(file), { recursive: true });
    return file;
  };
  await writeFile(await place(MANIFEST_PATH), manifest, { flag: 'wx' });
  for (const item of items) {
    const file = await place(item.archivePath);
    if (item.data) await writeFile(file, item.data, { flag: 'wx' });
    else await copyFile(item.source as string, file);
  }
}
