// model-server as a library: start a server in process with the same config and engine as the CLI.
// Anything not exported here is internal and may change.
export { startServer, type BoundAddresses, type RegistryDeps, type RunningServer, type StartServerOptions } from './server.js';
export { createEngineRegistry } from './engine.js';
export {
  loadConfig, ServerConfigSchema, SERVER_CONFIG_KEYS,
  type ListenAddress, type LoadConfigOptions, type LoadedConfig, type ServerConfig, type ServerConfigInput, type ServerConfigKey,
} from './config/index.js';
export { ServerEvents, type ServerEventMap } from './events.js';
export { fileSink, memorySink, type LineSink } from './logging/index.js';
export { SERVER_NAME, SERVER_VERSION } from './version.js';
export type {
  EffectiveModelConfig, InferenceOutcome, InferenceRequest, ModelRegistry, ModelVersionHandle, RegisterOptions, WorkerInfo, WorkerState,
} from './models/types.js';

// Every error the server answers with (docs/errors.md).
export {
  SERVER_ERRORS, BadRequest, InvalidModelName, DownloadFailed, Unauthorized, ArchiveNotAllowed, ModelNotFound, ArchiveNotFound,
  ResourceNotFound, ModelApiDisabled, ModelConflict, ArchiveExists, PayloadTooLarge, MultipartLimitExceeded, UnsupportedMediaType, InternalServerError,
  WorkerDied, InvalidHandlerOutput, ModelLoadFailed, QueueFull, ModelNotReady, ServerDraining, HandlerTimeout, ResponseTooLarge, ServerConfigInvalid,
  StartupFailed, StartupAborted,
} from './errors.js';
