import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { DownloadError } from './download-error.js';

export interface VerifiedDownload {
  url: string;
  dest: string;
  sha256: string;
  /** Exact size in bytes; the transfer is cut as soon as it exceeds it. */
  size: number;
  /** Whole transfer, connection to last byte. */
  timeoutMs?: number;
}

export interface DownloadResult {
  path: string;
  /** `present`: a valid file was already there and nothing was fetched. */
  status: 'downloaded' | 'present';
  bytes: number;
  ms: number;
}

export const DEFAULT_TIMEOUT_MS = 10 * 60_000;

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

async function isValidFile(path: string, size: number, sha256: string): Promise<boolean> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile() || info.size !== size) return false;
  return (await sha256OfFile(path)) === sha256;
}

function describeFetchFailure(url: string, error: unknown): DownloadError {
  const name = (error as { name?: string }).name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new DownloadError('TIMEOUT', `${url}: no complete answer in time`, { cause: error });
  }
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const reason = cause?.code ?? cause?.message ?? (error as Error).message;
  return new DownloadError(
    'UNREACHABLE',
    `cannot reach ${new URL(url).host} (${reason}). This script needs internet access; ` +
      'without it, use the synthetic model (npm run generate:synthetic) or copy the file in by hand',
    { cause: error },
  );
}

/**
 * Fetches `url` into a temporary file beside `dest`, hashing as it streams, and renames it to
 * `dest` only when size and sha256 match: `dest` is never a partial or unverified file. A valid
 * `dest` already in place is kept without any request.
 */
export async function downloadVerified(spec: VerifiedDownload): Promise<DownloadResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  if (await isValidFile(spec.dest, spec.size, spec.sha256)) {
    return { path: spec.dest, status: 'present', bytes: spec.size, ms: elapsed() };
  }

  const signal = AbortSignal.timeout(spec.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  let response: Response;
  try {
    response = await fetch(spec.url, { signal, redirect: 'follow' });
  } catch (error) {
    throw describeFetchFailure(spec.url, error);
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new DownloadError('HTTP_STATUS', `${spec.url}: HTTP ${response.status} ${response.statusText}`);
  }
  const announced = response.headers.get('content-length');
  if (announced !== null && Number(announced) !== spec.size) {
    await response.body.cancel();
    throw new DownloadError('SIZE_MISMATCH', `${spec.url}: server announces ${announced} bytes, expected ${spec.size}`);
  }

  await mkdir(dirname(spec.dest), { recursive: true });
  const partial = `${dirname(spec.dest)}/.${basename(spec.dest)}.${randomBytes(6).toString('hex')}.part`;
  const hash = createHash('sha256');
  let received = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      received += chunk.length;
      if (received > spec.size) {
        done(new DownloadError('SIZE_MISMATCH', `${spec.url}: more than the expected ${spec.size} bytes`));
        return;
      }
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    try {
      await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), meter, createWriteStream(partial));
    } catch (error) {
      if (error instanceof DownloadError) throw error;
      throw describeFetchFailure(spec.url, error);
    }
    if (received !== spec.size) {
      throw new DownloadError('SIZE_MISMATCH', `${spec.url}: got ${received} bytes, expected ${spec.size}`);
    }
    const actual = hash.digest('hex');
    if (actual !== spec.sha256) {
      throw new DownloadError('CHECKSUM_MISMATCH', `${spec.url}: sha256 ${actual}, expected ${spec.sha256}`);
    }
    await rename(partial, spec.dest);
  } finally {
    await rm(partial, { force: true });
  }
  return { path: spec.dest, status: 'downloaded', bytes: received, ms: elapsed() };
}
