import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { StartupFailed } from '../errors.js';

/**
 * Where the built worker entry is. Running from `dist/`, it sits beside the bundle; running the sources
 * (tests), the built copy in `dist/` is used, so workers always run compiled JavaScript.
 */
export function locateWorkerMain(): string {
  const candidates = [
    new URL('./workers/worker-main.js', import.meta.url),
    new URL('../../dist/workers/worker-main.js', import.meta.url),
  ].map((url) => fileURLToPath(url));
  const found = candidates.find((path) => existsSync(path));
  if (found === undefined) {
    throw new StartupFailed(`the worker entry is missing (looked for ${candidates.join(', ')}): build the server package first`);
  }
  return found;
}
