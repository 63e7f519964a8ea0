import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { StartupFailed } from '../errors.js';

/** One directory per user in the system temp dir, shared by all of that user's servers. */
export function defaultExtractRoot(): string {
  return join(tmpdir(), `nodeserve-${process.getuid?.() ?? userInfo().username}`, 'extract');
}

/** In a shared temp dir someone else may have made the path first: only a private directory of ours will do. */
function checkPrivate(dir: string): void {
  const info = lstatSync(dir);
  const ours = process.getuid === undefined || info.uid === process.getuid();
  if (!info.isDirectory() || !ours || (info.mode & 0o022) !== 0) {
    throw new StartupFailed(`${dir} is not a directory of this user's that only it can write to: refusing to extract models there`);
  }
}

/** `<pid>-<random>`: the directory of one registry, named for the process that owns it. */
const RUN_DIR = /^([1-9]\d{0,9})-[A-Za-z0-9]+$/;

function isRunning(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Creates this process's directory under `root` and removes those of processes that are gone: a
 * server that was killed never removes its own extractions, so the next one to start does.
 */
export function createRunDir(root: string): { dir: string; removedStale: string[] } {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  checkPrivate(root);
  const removedStale: string[] = [];
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const owner = RUN_DIR.exec(entry.name)?.[1];
    if (owner === undefined || !entry.isDirectory() || isRunning(Number(owner))) continue;
    const stale = join(root, entry.name);
    rmSync(stale, { recursive: true, force: true });
    removedStale.push(stale);
  }
  return { dir: mkdtempSync(join(root, `${process.pid}-`)), removedStale };
}
