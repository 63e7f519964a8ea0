import { createReadStream } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ArchiveLink, ArchiveTooLarge, ArchiveTooManyEntries } from '../errors.js';
import { checkEntryPath } from './entry-path.js';
import type { WalkedFile } from './entries.js';
import type { ArchiveLimits } from './limits.js';

/**
 * Walks a `no-archive` model directory in place. `lstat` (never `stat`) so a link is seen as a
 * link: following one could serve any file on the host as part of the model.
 */
export async function* directoryEntries(root: string, limits: ArchiveLimits): AsyncGenerator<WalkedFile> {
  let entryCount = 0;
  let total = 0;
  const pending: string[] = [''];
  while (pending.length > 0) {
    const rel = pending.pop() as string;
    const names = (await readdir(join(root, rel))).sort();
    for (const name of names) {
      const path = checkEntryPath(rel === '' ? name : `${rel}/${name}`);
      entryCount++;
      if (entryCount > limits.maxEntries) throw new ArchiveTooManyEntries(limits.maxEntries);
      const stats = await lstat(join(root, path));
      if (stats.isSymbolicLink()) throw new ArchiveLink(path, 'symbolic link');
      if (stats.isDirectory()) {
        pending.push(path);
        continue;
      }
      if (!stats.isFile()) throw new ArchiveLink(path, 'special file');
      if (stats.nlink > 1) throw new ArchiveLink(path, 'hard link');
      if (stats.size > limits.maxEntryBytes) throw new ArchiveTooLarge(`file "${path}" is ${stats.size} bytes, over the ${limits.maxEntryBytes}-byte limit per entry`);
      total += stats.size;
      if (total > limits.maxTotalBytes) throw new ArchiveTooLarge(`files hold more than ${limits.maxTotalBytes} bytes in total`);
      yield { path, size: stats.size, chunks: boundedRead(join(root, path), path, stats.size) };
    }
  }
}

/** The file may grow between lstat and read; never read more than was counted against the limits. */
async function* boundedRead(file: string, path: string, size: number): AsyncGenerator<Buffer> {
  let count = 0;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    count += chunk.length;
    if (count > size) throw new ArchiveTooLarge(`file "${path}" grew while it was read`);
    yield chunk;
  }
}
