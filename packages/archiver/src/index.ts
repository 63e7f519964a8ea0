export * from './manifest/schema.js';
export * from './manifest/model-config.js';
