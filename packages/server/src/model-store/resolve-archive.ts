import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, sep } from 'node:path';
import { ArchiveNotAllowed, ArchiveNotFound, BadRequest } from '../errors.js';
import { DEFAULT_DOWNLOAD_LIMITS, type DownloadLimits, download } from './download.js';

/** Where a registration's archive came from, once it is known to be allowed and present. */
export interface ArchiveSource {
  /** Absolute path inside the model store. */
  path: string;
  /** Set when the archive was downloaded for this registration: removed again if registration fails. */
  downloaded: boolean;
}

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

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

