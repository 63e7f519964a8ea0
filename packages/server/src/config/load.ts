import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { ServerConfigInvalid } from '../errors.js';
import { configFromEnvironment, envAllowedUrlsEnabled, envvarsConfigEnabled } from './env.js';
import { planListeners } from './listeners.js';
import { ModelSettingsSchema, modelsPropertyWarnings } from './models-property.js';
import { MAX_PROPERTIES_BYTES, parseProperties } from './properties.js';
import { grpcAddressNamesPort, SERVER_CONFIG_KEYS, type ServerConfig, ServerConfigSchema } from './schema.js';
import { IGNORED_TORCHSERVE_KEYS } from './torchserve-keys.js';

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
  /**
   * One line per setting accepted but not acted on (a TorchServe key for its JVM, Netty or Python
   * workers; a value this server serves differently), naming where it came from and why.
   */
  warnings: string[];
}

/**
 * Reads, merges and validates the server configuration; any problem is a `ServerConfigInvalid` naming
 * the key and where it came from. TorchServe keys with nothing to act on here are dropped with a
 * warning each; a key nobody knows stops start-up, with the closest known key as a hint.
 */
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
    for (const { key, variable, value } of configFromEnvironment(options.env ?? process.env, { allowedUrls: envAllowedUrlsEnabled(raw) })) {
      raw[key] = value;
      origin.set(key, `environment variable ${variable}`);
    }
  }
  const where = (key: string) => origin.get(key) ?? file ?? 'config';
  const warnings: string[] = [];
  for (const key of Object.keys(raw)) {
    const reason = IGNORED_TORCHSERVE_KEYS[key];
    if (reason === undefined) continue;
    warnings.push(`${where(key)}: ${key} is ignored: ${reason}`);
    delete raw[key];
  }
  const parsed = ServerConfigSchema.safeParse(raw);
  if (!parsed.success) throw new ServerConfigInvalid(describeIssues(parsed.error, where));
  const config = parsed.data;
  if (config.model_store !== undefined) config.model_store = path.resolve(options.cwd, config.model_store);
  warnings.push(...foldGrpcInferencePort(config, raw['grpc_inference_address'], where));
  planListeners(config);
  warnings.push(...valueWarnings(config, where));
  return { config, file, warnings };
}

/**
 * TorchServe's `grpc_inference_port` onto `grpc_inference_address`, the one key that says where gRPC
 * listens here. Precedence: a port written in `grpc_inference_address` (`0.0.0.0:9000`); else
 * `grpc_inference_port`, on the host `grpc_inference_address` names alone (TorchServe's form,
 * `grpc_inference_address=0.0.0.0`) or on 127.0.0.1 when it is not set; else port 9000. A
 * `grpc_inference_port` that loses to a different port is a warning, never silently dropped.
 */
function foldGrpcInferencePort(config: ServerConfig, rawAddress: unknown, where: (key: string) => string): string[] {
  const port = config.grpc_inference_port;
  if (port === undefined) return [];
  const addressPort = typeof rawAddress === 'string' && grpcAddressNamesPort(rawAddress);
  if (!addressPort) {
    config.grpc_inference_address = { host: config.grpc_inference_address.host, port };
    return [];
  }
  if (config.grpc_inference_address.port === port) return [];
  return [
    `${where('grpc_inference_port')}: grpc_inference_port=${port} is overridden by the port in grpc_inference_address ` +
      `(${where('grpc_inference_address')}): gRPC listens on port ${config.grpc_inference_address.port}`,
  ];
}

/** Values that are valid but served differently here than in TorchServe. */
function valueWarnings(config: ServerConfig, where: (key: string) => string): string[] {
  const warnings: string[] = [];
  if (config.metrics_mode !== 'prometheus') {
    warnings.push(`${where('metrics_mode')}: metrics_mode=${config.metrics_mode} is served as prometheus: metrics are Prometheus text on metrics_address, and no metrics log is written`);
  }
  if (!config.decode_input_request) {
    warnings.push(`${where('decode_input_request')}: decode_input_request=false changes nothing here: handlers always get the raw bytes in body, and a JSON body also parsed in json`);
  }
  if (!config.limit_max_image_pixels) {
    warnings.push(`${where('limit_max_image_pixels')}: limit_max_image_pixels=false changes nothing here: the SDK always bounds decoded pixels (the handler's maxImagePixels setting)`);
  }
  for (const warning of modelsPropertyWarnings(config.models)) warnings.push(`${where('models')}: ${warning}`);
  return warnings;
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

function describeIssues(error: z.ZodError, where: (key: string) => string): string {
  const lines = error.issues.map((issue) => {
    const key = String(issue.path[0] ?? '');
    if (issue.code === 'unrecognized_keys' && issue.path.length === 0) {
      return issue.keys.map((k) => `${where(k)}: unknown config key "${k}"${hint(k, CONFIG_KEYS)}`).join('\n');
    }
    if (issue.code === 'unrecognized_keys') {
      const at = issue.path.slice(1).join('.');
      return issue.keys.map((k) => `${where(key)}: ${key} (${at}): unknown setting "${k}"${hint(k, MODEL_SETTING_KEYS)}`).join('\n');
    }
    // Inside the models JSON, name the model, version and setting; a list index says nothing.
    const inner = key === 'models' ? issue.path.slice(1).join('.') : '';
    return `${where(key)}: ${key}${inner === '' ? '' : ` (${inner})`}: ${issue.message}`;
  });
  return `Invalid configuration:\n${lines.join('\n')}`;
}

const CONFIG_KEYS: readonly string[] = [...SERVER_CONFIG_KEYS, ...Object.keys(IGNORED_TORCHSERVE_KEYS)];
const MODEL_SETTING_KEYS: readonly string[] = Object.keys(ModelSettingsSchema.shape);

/** `; did you mean "job_queue_size"?` for a key within a few edits of a known one (a typo), else nothing. */
function hint(key: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 4)) ? `; did you mean "${best}"?` : '';
}

/** Levenshtein distance, adjacent swaps counting one (so "job_qeueu_size" is close to "job_queue_size"). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
