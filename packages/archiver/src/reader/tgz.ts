import { createReadStream } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract, type Header } from 'tar-stream';
import {
  ArchiveCompressionRatio,
  ArchiveError,
  ArchiveLink,
  ArchiveTooLarge,
  ArchiveTooManyEntries,
  ArchiveUnreadable,
  ArchiveUnsafePath,
} from '../errors.js';
import { checkEntryPath } from './entry-path.js';
import type { WalkedFile } from './entries.js';
import { RATIO_CHECK_FLOOR_BYTES, type ArchiveLimits } from './limits.js';

/** Room for tar headers, pax records and padding on top of the content limit. */
const TAR_OVERHEAD_BYTES = 64 * 1024 * 1024;

/** Counts what gunzip produces against what it was fed, and stops the stream on a bomb. */
class RatioGuard extends Transform {
  compressed = 0;
  private expanded = 0;
  constructor(private readonly limits: ArchiveLimits) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.expanded += chunk.length;
    if (this.expanded > this.limits.maxTotalBytes + TAR_OVERHEAD_BYTES) {
      done(new ArchiveTooLarge(`archive expands past ${this.limits.maxTotalBytes} bytes`));
    } else if (this.expanded > RATIO_CHECK_FLOOR_BYTES && this.expanded > this.compressed * this.limits.maxCompressionRatio) {
      done(new ArchiveCompressionRatio('archive', this.limits.maxCompressionRatio));
    } else {
      done(null, chunk);
    }
  }
}

/**
 * Walks a gzipped tar as TorchServe writes it (`--archive-format tgz`): every entry under one
 * top-level `<name>/` directory, which is stripped. Only regular files and directories pass.
 */
export async function* tgzEntries(file: string, limits: ArchiveLimits): AsyncGenerator<WalkedFile> {
  const guard = new RatioGuard(limits);
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      guard.compressed += chunk.length;
      done(null, chunk);
    },
  });
  const tar = extract();
  const piping = pipeline(createReadStream(file), counter, createGunzip(), guard, tar).catch((err: unknown) => {
    tar.destroy(err instanceof Error ? err : new Error(String(err)));
  });
  let root: string | undefined;
  let entryCount = 0;
  let total = 0;
  try {
    for await (const entry of tar) {
      const header: Header = entry.header;
      entryCount++;
      if (entryCount > limits.maxEntries) throw new ArchiveTooManyEntries(limits.maxEntries);
      if (header.type === 'symlink' || header.type === 'link') {
        throw new ArchiveLink(header.name, header.type === 'link' ? 'hard link' : 'symbolic link');
      }
      if (header.type !== 'file' && header.type !== 'contiguous-file' && header.type !== 'directory') {
        throw new ArchiveLink(header.name, `special file (${header.type})`);
      }
      const full = checkEntryPath(header.name);
      const slash = full.indexOf('/');
      const top = slash < 0 ? full : full.slice(0, slash);
      root ??= top;
      if (top !== root) throw new ArchiveUnsafePath(header.name, `outside the archive's top-level "${root}/" directory`);
      if (slash < 0) {
        if (header.type !== 'directory') throw new ArchiveUnsafePath(header.name, `outside the archive's top-level "${root}/" directory`);
        entry.resume();
        continue;
      }
      const path = full.slice(slash + 1);
      if (header.type === 'directory') {
        entry.resume();
        continue;
      }
      const size = header.size;
      if (size > limits.maxEntryBytes) throw new ArchiveTooLarge(`entry "${path}" is ${size} bytes, over the ${limits.maxEntryBytes}-byte limit per entry`);
      total += size;
      if (total > limits.maxTotalBytes) throw new ArchiveTooLarge(`entries hold more than ${limits.maxTotalBytes} bytes in total`);
      yield { path, size, chunks: entry as AsyncIterable<Buffer> };
    }
  } catch (err) {
    if (err instanceof Error && !(err instanceof ArchiveError)) throw new ArchiveUnreadable(`not a readable tar.gz archive: ${err.message}`);
    throw err;
  } finally {
    tar.destroy();
    await piping;
  }
}
