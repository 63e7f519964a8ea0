export { createModelRegistry, type ModelRegistryOptions } from './registry.js';
export type { EngineDefaults } from './effective-config.js';
export type * from './types.js';
