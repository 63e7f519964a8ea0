// `@nodeserve/archiver/reader`: the safe archive reader with the schemas and errors it reports, without
// the writer's dependencies (esbuild, archiver, yaml), which cost a server a tenth of a second to load.
export * from '../manifest/index.js';
export * from '../errors.js';
export { DEFAULT_ARCHIVE_LIMITS, type ArchiveLimits } from './limits.js';
export type { ArchiveEntry } from './entries.js';
export { inspectArchive, extractArchive, readManifest, detectFormat, type ArchiveFormat } from './archive.js';
