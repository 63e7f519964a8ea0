export { configFromEnvironment, environmentVariableFor, type EnvironmentEntry } from './env.js';
export { loadConfig, type LoadConfigOptions, type LoadedConfig } from './load.js';
export { parseProperties, type PropertyEntry } from './properties.js';
export {
  ServerConfigSchema,
  SERVER_CONFIG_KEYS,
  type ListenAddress,
  type ServerConfig,
  type ServerConfigInput,
  type ServerConfigKey,
} from './schema.js';
