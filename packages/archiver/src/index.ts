export * from './manifest/schema.js';
export * from './manifest/model-config.js';
export * from './errors.js';
export { DEFAULT_ARCHIVE_LIMITS, type ArchiveLimits } from './reader/limits.js';
export type { ArchiveEntry } from './reader/entries.js';
export { inspectArchive, extractArchive, detectFormat, type ArchiveFormat } from './reader/archive.js';
