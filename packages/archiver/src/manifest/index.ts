// `@nodeserve/archiver/manifest`: the manifest and model config schemas alone (zod only), for code
// that validates a manifest without reading or writing archives, such as every model worker.
export * from './schema.js';
export * from './model-config.js';
