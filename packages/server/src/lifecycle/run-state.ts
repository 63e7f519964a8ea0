import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { RunPaths } from './paths.js';

/**
 * The run-state files a server writes in its log directory, and how to read them: `model-server.pid`
 * and `model-server.json` (what runs, with the ports actually bound). The one definition of their
 * layout, for `--status` and `--stop`, and for anything else that starts a server and needs its ports
 * (`@nodeserve/server/run-state`: the demo, the bench, the tests). Loads only zod.
 */

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
  addresses: z
    .object({
      inference: z.string(),
      management: z.string(),
      /** Absent with `enable_metrics_api=false`. */
      metrics: z.string().optional(),
      /** The gRPC inference service as `host:port` (absent in the state of a server from before it had one). */
      grpcInference: z.string().optional(),
    })
    .optional(),
  models: z.array(ModelStateSchema),
});

export type RunState = z.infer<typeof RunStateSchema>;
export type ModelState = z.infer<typeof ModelStateSchema>;

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

/** The port of a bound address such as `http://127.0.0.1:8080` or `http://[::1]:8080`. */
export function portOf(address: string): number {
  return Number(new URL(address).port);
}

export { runPaths, type RunPaths } from './paths.js';
export { isAlive } from './process-check.js';
