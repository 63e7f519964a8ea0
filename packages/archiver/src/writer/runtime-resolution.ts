import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { RUNTIME_PACKAGES } from './compile-handler.js';

const require = createRequire(import.meta.url);

export function ancestors(dir: string): string[] {
  const up = dirname(dir);
  return up === dir ? [dir] : [dir, ...ancestors(up)];
}

function packageIn(nodeModulesDirs: string[], name: string): string | undefined {
  return nodeModulesDirs.map((d) => join(d, name)).find((d) => existsSync(join(d, 'package.json')));
}

/**
 * The `node_modules` folders the archiver itself resolves from. Looked up by folder rather than
 * with `require.resolve('<pkg>/package.json')`, because packages whose `exports` omit
 * `./package.json` (the handler SDK among them) would refuse that.
 */
function ownNodeModules(): string[] {
  return require.resolve.paths('@nodeserve/handler-sdk') ?? [];
}

/**
 * Where each runtime package that is NOT found above the handler's folder can be found instead:
 * above the working directory, else beside the archiver's own installation. The server provides
 * these packages at run time, so a model folder kept outside any project (the MMS layout) must
 * still type-check against them. Packages found above the handler are left to normal resolution.
 */
export function runtimePackageLocations(handlerFile: string, cwd: string): Record<string, string> {
  const nearHandler = ancestors(dirname(handlerFile)).map((d) => join(d, 'node_modules'));
  const nearCwd = ancestors(cwd).map((d) => join(d, 'node_modules'));
  const own = ownNodeModules();
  const found: Record<string, string> = {};
  for (const name of RUNTIME_PACKAGES) {
    if (packageIn(nearHandler, name)) continue;
    const dir = packageIn(nearCwd, name) ?? packageIn(own, name);
    if (dir) found[name] = dir;
  }
  return found;
}

/** The `@types` folders the archiver's own installation sees, for `@types/node` when the handler's folder has none. */
export function ownTypeRoots(): string[] {
  return ownNodeModules()
    .map((d) => join(d, '@types'))
    .filter((d) => existsSync(d));
}
