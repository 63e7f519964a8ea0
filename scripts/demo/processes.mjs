import { readdirSync, readFileSync } from 'node:fs';
import { isAlive } from '@nodeserve/server/run-state';

/**
 * `pid` and every process below it, parents before children, read from /proc. model-server starts
 * worker processes, so stopping or measuring "the server" means this whole tree.
 * @param {number} pid
 * @returns {number[]}
 */
export function processTree(pid) {
  /** @type {Map<number, number[]>} */
  const children = new Map();
  let entries = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return isAlive(pid) ? [pid] : [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat = '';
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // The command name (field 2) may hold spaces and parentheses; the fields after the last ')' are fixed.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  if (!isAlive(pid)) return [];
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(/** @type {number} */ (tree[i])) ?? []));
  return tree;
}

/** Whether `pid` runs (a zombie does not): the server's own check. */
export { isAlive };

/**
 * Kills the given processes (SIGTERM, then SIGKILL for any still alive after `graceMs`).
 * @param {number[]} pids
 * @param {number} [graceMs]
 */
export async function killAll(pids, graceMs = 2000) {
  const signal = (/** @type {number} */ pid, /** @type {NodeJS.Signals} */ sig) => {
    try {
      process.kill(pid, sig);
    } catch {
      // Already gone.
    }
  };
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pids.some(isAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const pid of pids.filter(isAlive)) signal(pid, 'SIGKILL');
}

/**
 * CPU time (user + system) a process has used so far, in milliseconds, from /proc/<pid>/stat.
 * @param {number} pid
 */
export function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line, in clock ticks (100 per second on Linux).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}
