import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { RunPaths } from './paths.js';

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
  addresses: z.object({ inference: z.string(), management: z.string(), metrics: z.string() }),
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
