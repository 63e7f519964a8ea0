import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { RunPaths } from './paths.js';
import { isServerProcess } from './process-check.js';

export const ModelStateSchema = z.object({
  name: z.string(),
  version: z.string(),
  default: z.boolean(),
  ready: z.boolean(),
  workers: z.number().int(),
  queued: z.number().int(),
});

/** `model-server.json`: what runs, with the ports actually bound (the config may ask for port 0). */
export const RunStateSchema = z.object({
  pid: z.number().int().positive(),
  startedAt: z.string(),
  cwd: z.string(),
  logDir: z.string(),
  configFile: z.string().optional(),
  /** `starting` from the moment the pid file is claimed until every initial model is ready. */
  phase: z.enum(['starting', 'running']).default('running'),
  /** Known once the ports are bound: absent while starting. */
  addresses: z.object({ inference: z.string(), management: z.string(), metrics: z.string() }).optional(),
  models: z.array(ModelStateSchema),
});

export type RunState = z.infer<typeof RunStateSchema>;
export type ModelState = z.infer<typeof ModelStateSchema>;

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

export function readPid(paths: RunPaths): number | undefined {
  try {
    const pid = Number(readFileSync(paths.pidFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function readRunState(paths: RunPaths): RunState | undefined {
  try {
    const parsed = RunStateSchema.safeParse(JSON.parse(readFileSync(paths.stateFile, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o644 });
  renameSync(tmp, file);
}
