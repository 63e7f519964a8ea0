import { SERVER_CONFIG_KEYS, type ServerConfigKey, ServerConfigSchema } from './schema.js';

/** One config value taken from a `TS_<KEY>` environment variable. */
export interface EnvironmentEntry {
  key: ServerConfigKey;
  /** The variable's name, for error messages: `TS_JOB_QUEUE_SIZE`. */
  variable: string;
  value: string;
}

/**
 * The switches themselves are never read from the environment, as in TorchServe (whose `TS_`-prefixed
 * field list leaves them out): whoever writes the config file decides whether the environment may
 * override it, and whether it may widen `allowed_urls`.
 */
const NOT_FROM_ENVIRONMENT: ReadonlySet<ServerConfigKey> = new Set(['enable_envvars_config', 'use_env_allowed_urls']);

/** `job_queue_size` → `TS_JOB_QUEUE_SIZE`, TorchServe's naming. */
export function environmentVariableFor(key: ServerConfigKey): string {
  return `TS_${key.toUpperCase()}`;
}

/**
 * Whether `enable_envvars_config`, as the file and command line give it, is true. An invalid value
 * counts as false here; validation of the merged config then reports it with its origin.
 */
export function envvarsConfigEnabled(raw: Record<string, unknown>): boolean {
  return switchOn(raw, 'enable_envvars_config');
}

/** Whether `TS_ALLOWED_URLS` may set `allowed_urls`: only when the file or caller sets `use_env_allowed_urls=true`. */
export function envAllowedUrlsEnabled(raw: Record<string, unknown>): boolean {
  return switchOn(raw, 'use_env_allowed_urls');
}

function switchOn(raw: Record<string, unknown>, key: 'enable_envvars_config' | 'use_env_allowed_urls'): boolean {
  const parsed = ServerConfigSchema.shape[key].safeParse(raw[key]);
  return parsed.success && parsed.data;
}

/**
 * The config values set in `env` as `TS_<KEY>` for every key of `config.properties` (an empty value
 * counts as set, as TorchServe takes it). Other `TS_` variables are not ours to judge and are left
 * alone: KServe's runtime sets `TS_SERVICE_ENVELOPE`, and Kubernetes injects `<SERVICE>_SERVICE_HOST`
 * variables for every Service in the namespace, so a Service named `ts` yields `TS_SERVICE_HOST`.
 */
export function configFromEnvironment(env: NodeJS.ProcessEnv, options: { allowedUrls?: boolean } = {}): EnvironmentEntry[] {
  const entries: EnvironmentEntry[] = [];
  for (const key of SERVER_CONFIG_KEYS) {
    if (NOT_FROM_ENVIRONMENT.has(key)) continue;
    if (key === 'allowed_urls' && options.allowedUrls !== true) continue;
    const variable = environmentVariableFor(key);
    const value = env[variable];
    if (value !== undefined) entries.push({ key, variable, value });
  }
  return entries;
}
