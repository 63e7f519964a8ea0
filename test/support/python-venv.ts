import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/**
 * A venv in the user's cache folder (`~/.cache/nodeserve/<name>`) whose python imports `imports`,
 * made once with pip from the package index it is configured with (in CI, the local mirror); .ci/run
 * installs python3-venv where it is missing. Built under a temporary name and renamed into place, so
 * a concurrent run never sees half of one. Throws, saying why, when Python, venv or pip fails: the
 * tests that need one are not skipped.
 */
export async function pythonVenv(o: { name: string; packages: readonly string[]; imports: string; purpose: string }): Promise<string> {
  const cache = process.env['XDG_CACHE_HOME'] ?? path.join(homedir(), '.cache');
  const dir = path.join(cache, 'nodeserve', o.name);
  const python = path.join(dir, 'bin', 'python');
  const works = async (): Promise<boolean> => {
    if (!existsSync(python)) return false;
    try {
      await exec(python, ['-c', `import ${o.imports}`], { timeout: 30_000 });
      return true;
    } catch {
      return false;
    }
  };
  if (await works()) return python;
  const building = `${dir}.${process.pid}.tmp`;
  await rm(building, { recursive: true, force: true });
  await mkdir(path.dirname(dir), { recursive: true });
  try {
    await exec('python3', ['-m', 'venv', building], { timeout: 120_000 });
  } catch (error) {
    throw new Error(`${o.purpose} need python3 with venv (apt-get install python3-venv): ${(error as Error).message}`);
  }
  try {
    // No retries: an unreachable default index (no network) is then skipped at once for the configured mirror.
    await exec(path.join(building, 'bin', 'python'), ['-m', 'pip', 'install', '--quiet', '--retries', '0', ...o.packages], { timeout: 240_000 });
  } catch (error) {
    await rm(building, { recursive: true, force: true });
    const e = error as { message: string; stderr?: string };
    throw new Error(`pip could not install ${o.packages.join(' and ')} for ${o.purpose}: ${e.stderr ?? e.message}`);
  }
  await rm(dir, { recursive: true, force: true });
  try {
    await rename(building, dir);
  } catch {
    // Another run put its venv in place first: use that one.
    await rm(building, { recursive: true, force: true });
  }
  if (!(await works())) throw new Error(`the venv in ${dir} cannot import ${o.imports}`);
  return python;
}
