import { ModelConfigSchema } from '@nodeserve/archiver/manifest';
import { z } from 'zod';

/**
 * One model version's settings in `models=`, with TorchServe's names (`Model.java`; its snapshots
 * write every one of them). The serving settings are the archive's model config's own fields, so
 * they are bounded as it and the management API are; the rest are TorchServe's snapshot fields.
 */
export const ModelSettingsSchema = ModelConfigSchema.pick({
  minWorkers: true,
  maxWorkers: true,
  batchSize: true,
  maxBatchDelay: true,
  responseTimeout: true,
  /** Accepted but not applied per model (a warning says so): `default_startup_timeout` applies. */
  startupTimeout: true,
}).extend({
  /** Make this version the model's default once it is registered. */
  defaultVersion: z.boolean().optional(),
  /** The archive TorchServe restores this version from in a snapshot; informational here. */
  marName: z.string().min(1).optional(),
  /** TorchServe's Python runtime type; accepted with a warning (workers run Node.js). */
  runtimeType: z.string().optional(),
  /** TorchServe's torchrun parallelism; accepted with a warning. */
  parallelLevel: z.number().int().optional(),
});
export type ModelSettings = z.infer<typeof ModelSettingsSchema>;

/**
 * `models={"noop": {"1.0": {"minWorkers": 1, "batchSize": 4, …}}}`: per-model-version settings as
 * JSON, TorchServe's format (`docs/configuration.md`). In a properties file the JSON usually spans
 * lines ending in `\`.
 */
export const ModelsPropertySchema = z
  .unknown()
  .transform((value, ctx): unknown => {
    // A properties file gives text; programmatic callers may give the object itself.
    if (typeof value !== 'string') return value;
    if (value.trim() === '') return {};
    try {
      return JSON.parse(value) as unknown;
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `is not valid JSON (${(error as Error).message})` });
      return z.NEVER;
    }
  })
  .pipe(z.record(z.string().min(1), z.record(z.string().min(1), ModelSettingsSchema), { error: 'must be JSON: {"<model>": {"<version>": {settings}}}' }));
export type ModelsProperty = z.infer<typeof ModelsPropertySchema>;

/** Settings accepted in `models=` that this server does not apply, with why: one warning each. */
export function modelsPropertyWarnings(models: ModelsProperty): string[] {
  const warnings: string[] = [];
  for (const [name, versions] of Object.entries(models)) {
    for (const [version, settings] of Object.entries(versions)) {
      const at = `models: ${name} ${version}`;
      if (settings.startupTimeout !== undefined) warnings.push(`${at}: startupTimeout is not applied per model; default_startup_timeout or the archive's startupTimeout applies`);
      if (settings.runtimeType !== undefined) warnings.push(`${at}: runtimeType is ignored: workers run Node.js`);
      if (settings.parallelLevel !== undefined) warnings.push(`${at}: parallelLevel is ignored: torchrun parallelism is not provided`);
    }
  }
  return warnings;
}
