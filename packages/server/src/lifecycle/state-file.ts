import { linkSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { RunPaths } from './paths.js';
import { isServerProcess } from './process-check.js';
import { type RunState, readPid } from './run-state.js';

// Writing the run-state files; run-state.ts defines their layout and reads them.

/** Written atomically (temp file + rename), so a reader never sees half a file. */
export function writeRunFiles(paths: RunPaths, state: RunState): void {
  mkdirSync(path.dirname(paths.pidFile), { recursive: true });
  writeAtomic(paths.pidFile, `${state.pid}\n`);
  writeAtomic(paths.stateFile, `${JSON.stringify(state, null, 2)}\n`);
}

/**
 * Claims the pid file for `pid`, exclusively: the file appears whole or not at all (written aside,
 * then hard-linked into place, which fails when it exists), so of two servers started in the same
 * directory exactly one runs. A pid file left by a server that is gone is replaced. Resolves with the
 * pid of the server that holds it when that is not us.
 */
export function claimPidFile(paths: RunPaths, pid: number): { claimed: true } | { claimed: false; holder: number } {
  mkdirSync(path.dirname(paths.pidFile), { recursive: true });
  const tmp = `${paths.pidFile}.${pid}.tmp`;
  writeFileSync(tmp, `${pid}\n`, { mode: 0o644 });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(tmp, paths.pidFile);
        return { claimed: true };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = readPid(paths);
      if (holder !== undefined && holder !== pid && isServerProcess(holder)) return { claimed: false, holder };
      // Stale: its server is gone (or the pid was reused by another program).
      if (holder !== undefined) removeRunFiles(paths, holder);
      else rmSync(paths.pidFile, { force: true });
    }
    throw new Error(`cannot claim the pid file ${paths.pidFile}: another server keeps replacing it`);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** The run state alone (the pid file is already ours). */
export function writeStateFile(paths: RunPaths, state: RunState): void {
  writeAtomic(paths.stateFile, `${JSON.stringify(state, null, 2)}\n`);
}

export function removeRunFiles(paths: RunPaths, pid: number): void {
  // Only our own files: a newer server may already have replaced them.
  if (readPid(paths) === pid) {
    rmSync(paths.pidFile, { force: true });
    rmSync(paths.stateFile, { force: true });
  }
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o644 });
  renameSync(tmp, file);
}
