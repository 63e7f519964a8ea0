import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { ServerConfigInvalid } from '../errors.js';
import { configFromEnvironment, envvarsConfigEnabled } from './env.js';
import { MAX_PROPERTIES_BYTES, parseProperties } from './properties.js';
import { type ServerConfig, ServerConfigSchema } from './schema.js';

export interface LoadConfigOptions {
  /** `--config FILE`; without it `config.properties` in `cwd` is read if there is one, as TorchServe does. */
  configFile?: string;
  cwd: string;
  /** Values from the command line; they win over the file's. */
  overrides?: Record<string, unknown>;
  /**
   * Where `TS_<KEY>` variables are read from when `enable_envvars_config` is true (default
   * `process.env`); they win over the file and the command line, TorchServe's order.
   */
  env?: NodeJS.ProcessEnv;
}

export interface LoadedConfig {
  config: ServerConfig;
  /** The file read, if any (absolute). */
  file: string | undefined;
}

/** Reads, merges and validates the server configuration; any problem is a `ServerConfigInvalid` naming the key and where it came from. */
export function loadConfig(options: LoadConfigOptions): LoadedConfig {
  const file = findConfigFile(options);
  const raw: Record<string, unknown> = {};
  const origin = new Map<string, string>();
  if (file !== undefined) {
    for (const entry of parseProperties(readConfigText(file))) {
      raw[entry.key] = entry.value;
      origin.set(entry.key, `${file}:${entry.line}`);
    }
  }
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (value === undefined) continue;
    raw[key] = value;
    origin.set(key, 'command line');
  }
  if (envvarsConfigEnabled(raw)) {
    for (const { key, variable, value } of configFromEnvironment(options.env ?? process.env)) {
      raw[key] = value;
      origin.set(key, `environment variable ${variable}`);
    }
  }
  const parsed = ServerConfigSchema.safeParse(raw);
  if (!parsed.success) throw new ServerConfigInvalid(describeIssues(parsed.error, origin, file));
  const config = parsed.data;
  if (config.model_store !== undefined) config.model_store = path.resolve(options.cwd, config.model_store);
  return { config, file };
}

function findConfigFile(options: LoadConfigOptions): string | undefined {
  if (options.configFile !== undefined) {
    const file = path.resolve(options.cwd, options.configFile);
    if (!existsSync(file)) throw new ServerConfigInvalid(`Config file not found: ${file}`);
    return file;
  }
  const fallback = path.join(options.cwd, 'config.properties');
  return existsSync(fallback) ? fallback : undefined;
}

function readConfigText(file: string): string {
  const stat = statSync(file);
  if (!stat.isFile()) throw new ServerConfigInvalid(`Config file is not a regular file: ${file}`);
  if (stat.size > MAX_PROPERTIES_BYTES) throw new ServerConfigInvalid(`Config file ${file} is larger than ${MAX_PROPERTIES_BYTES} bytes`);
  return readFileSync(file, 'utf8');
}

function describeIssues(error: z.ZodError, origin: Map<string, string>, file: string | undefined): string {
  const lines = error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys
        .map((key) => `${origin.get(key) ?? file ?? 'config'}: unknown config key "${key}"`)
        .join('\n');
    }
    const key = String(issue.path[0] ?? '');
    return `${origin.get(key) ?? file ?? 'config'}: ${key}: ${issue.message}`;
  });
  return `Invalid configuration:\n${lines.join('\n')}`;
}
