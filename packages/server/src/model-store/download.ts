import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { link, mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { inspectArchive } from '@nodeserve/archiver/reader';
import { ArchiveExists, BadRequest, DownloadFailed } from '../errors.js';

export interface DownloadLimits {
  maxBytes: number;
  timeoutMs: number;
}

/** The archive reader's own ceiling on an archive's total size, and time enough to move that much. */
export const DEFAULT_DOWNLOAD_LIMITS: DownloadLimits = { maxBytes: 4 * 1024 ** 3, timeoutMs: 10 * 60_000 };

const ARCHIVE_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}\.(mar|tar\.gz|tgz)$/;

/**
 * Downloads into the store's own temporary folder (same file system, so the final link is atomic),
 * bounded in bytes and time, refusing redirects (they would escape `allowed_urls`), validates the
 * archive with the safe reader, and only then gives it its name in the store.
 */
export async function download(url: string, store: string, limits: DownloadLimits): Promise<string> {
  const name = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
  if (!ARCHIVE_FILE_NAME.test(name)) throw new BadRequest(`URL must end in an archive file name (NAME.mar, NAME.tar.gz or NAME.tgz): ${url}`);
  const finalPath = join(store, name);
  if (await exists(finalPath)) throw new ArchiveExists(name);
  const tmpDir = join(store, '.download');
  await mkdir(tmpDir, { recursive: true, mode: 0o700 });
  const tmp = join(tmpDir, `${randomUUID()}-${name}`);
  try {
    await fetchTo(url, tmp, limits);
    await inspectArchive(tmp);
    try {
      await link(tmp, finalPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ArchiveExists(name);
      throw err;
    }
    return finalPath;
  } finally {
    await rm(tmp, { force: true });
  }
}

async function fetchTo(url: string, file: string, limits: DownloadLimits): Promise<void> {
  let response: Response;
  const signal = AbortSignal.timeout(limits.timeoutMs);
  try {
    response = await fetch(url, { redirect: 'error', signal });
  } catch (err) {
    throw new DownloadFailed(url, describeFetchError(err));
  }
  if (!response.ok || response.body === null) {
    await response.body?.cancel();
    throw new DownloadFailed(url, `the server answered ${response.status}`);
  }
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > limits.maxBytes) {
    await response.body.cancel();
    throw new DownloadFailed(url, `it is ${declared} bytes, more than the ${limits.maxBytes} allowed`);
  }
  let received = 0;
  const cap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      received += chunk.length;
      if (received > limits.maxBytes) done(new DownloadFailed(url, `it is more than the ${limits.maxBytes} bytes allowed`));
      else done(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), cap, createWriteStream(file, { flags: 'wx', mode: 0o600 }));
  } catch (err) {
    if (err instanceof DownloadFailed) throw err;
    throw new DownloadFailed(url, describeFetchError(err));
  }
}

function describeFetchError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'it took longer than the download time limit';
  return e.cause?.code ?? e.cause?.message ?? e.message;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
