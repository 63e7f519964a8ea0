import { readFileSync } from 'node:fs';

/**
 * Whether `pid` is a live model-server. A pid file can outlive its server and the pid be reused by
 * another program; on Linux the command line tells them apart.
 */
export function isServerProcess(pid: number): boolean {
  if (!isAlive(pid)) return false;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return true;
  }
  return cmdline.includes('model-server') || cmdline.includes('cli.js');
}

/**
 * Whether `pid` runs. A detached server that exited stays a zombie until its new parent (init, or a
 * container's pid 1) reaps it, which can take seconds; signals still reach a zombie, so ask Linux.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true;
  }
}
