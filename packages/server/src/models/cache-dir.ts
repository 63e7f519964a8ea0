import type { Manifest } from '@nodeserve/archiver';
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/** `$XDG_CACHE_HOME/nodeserve/models`, else `~/.cache/nodeserve/models`: independent of any server's config, so caches survive restarts. */
export function defaultCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env['XDG_CACHE_HOME'];
  const base = xdg !== undefined && isAbsolute(xdg) ? xdg : join(homedir(), '.cache');
  return join(base, 'nodeserve', 'models');
}

/**
 * Creates (owner-only) and returns a model version's cache directory, keyed by the name it is served
 * under and the digest of its model file, so a re-registered or restarted model finds its cache again
 * and a changed model file never meets a stale one. Without a model file the handler bundle's digest keys it.
 */
export async function cacheDirFor(root: string, name: string, manifest: Manifest): Promise<string> {
  const { serializedFile } = manifest.model;
  const digest = (serializedFile === undefined ? undefined : manifest.files[serializedFile]?.sha256)
    ?? manifest.files[manifest.entryPoint.bundle]?.sha256
    ?? `version-${manifest.model.modelVersion}`;
  const dir = join(root, `${name}-${digest}`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return dir;
}
