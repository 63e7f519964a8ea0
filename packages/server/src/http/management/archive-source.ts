import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { link, mkdir, realpath, rm, stat } from 'node:fs/promises';
import { isAbsolute, join, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { inspectArchive } from '@nodeserve/archiver/reader';
import { ArchiveExists, ArchiveNotAllowed, ArchiveNotFound, BadRequest, DownloadFailed } from '../../errors.js';

/** Where a registration's archive came from, once it is known to be allowed and present. */
export interface ArchiveSource {
  /** Absolute path inside the model store. */
  path: string;
  /** Set when the archive was downloaded for this registration: removed again if registration fails. */
  downloaded: boolean;
}

export interface DownloadLimits {
  maxBytes: number;
  timeoutMs: number;
}

/** The archive reader's own ceiling on an archive's total size, and time enough to move that much. */
export const DEFAULT_DOWNLOAD_LIMITS: DownloadLimits = { maxBytes: 4 * 1024 ** 3, timeoutMs: 10 * 60_000 };

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
const ARCHIVE_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}\.(mar|tar\.gz|tgz)$/;

/**
 * Turns the `url` of `POST /models` into an archive path in the model store. A plain name is a file
 * (or archive directory) inside the store: absolute paths, `..` and anything whose real path (links
 * resolved) lies outside the store are refused. An http(s) URL is fetched only when it matches one
 * of `allowed_urls` in full; with none configured, no URL is. TorchServe's ShellTorch advisories came
 * from doing the opposite.
 */
export async function resolveArchiveSource(
  url: string,
  options: { modelStore: string | undefined; allowedUrls: string[]; limits?: DownloadLimits },
): Promise<ArchiveSource> {
  if (options.modelStore === undefined) throw new BadRequest('The server has no model_store, so it cannot register archives');
  const store = await realpath(options.modelStore);
  if (SCHEME.test(url) && !/^[A-Za-z]:[\\/]/.test(url)) {
    const scheme = url.slice(0, url.indexOf(':')).toLowerCase();
    if (scheme !== 'http' && scheme !== 'https') {
      throw new ArchiveNotAllowed(`URL scheme "${scheme}:" is not served; give a file name in the model store or an http(s) URL`);
    }
    if (!options.allowedUrls.some((pattern) => new RegExp(`^(?:${pattern})$`).test(url))) {
      throw new ArchiveNotAllowed(
        options.allowedUrls.length === 0
          ? `Registering from a URL is off: allowed_urls is empty, so only files in the model store can be registered (${url})`
          : `URL ${url} does not match any pattern in allowed_urls`,
      );
    }
    return { path: await download(url, store, options.limits ?? DEFAULT_DOWNLOAD_LIMITS), downloaded: true };
  }
  return { path: await localArchive(url, store), downloaded: false };
}

async function localArchive(url: string, store: string): Promise<string> {
  if (url.includes('\0') || isAbsolute(url) || /^[A-Za-z]:/.test(url) || url.startsWith('\\')) {
    throw new ArchiveNotAllowed(`url must name a file inside the model store, not an absolute path: ${url}`);
  }
  if (url.split(/[\\/]/).includes('..')) throw new ArchiveNotAllowed(`url must not contain "..": ${url}`);
  let real: string;
  try {
    real = await realpath(join(store, url));
  } catch {
    throw new ArchiveNotFound(url);
  }
  if (!real.startsWith(store + sep)) throw new ArchiveNotAllowed(`url resolves outside the model store (through a link): ${url}`);
  const stats = await stat(real);
  if (!stats.isFile() && !stats.isDirectory()) throw new ArchiveNotAllowed(`url is neither a file nor an archive directory: ${url}`);
  return real;
}

/**
 * Downloads into the store's own temporary folder (same file system, so the final link is atomic),
 * bounded in bytes and time, refusing redirects (they would escape `allowed_urls`), validates the
 * archive with the safe reader, and only then gives it its name in the store.
 */
async function download(url: string, store: string, limits: DownloadLimits): Promise<string> {
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
