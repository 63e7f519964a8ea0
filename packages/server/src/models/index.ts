export { createModelRegistry, type ModelRegistryOptions } from './registry.js';
export { defaultExtractRoot } from './run-dir.js';
export type { EngineDefaults } from './effective-config.js';
export type * from './types.js';
