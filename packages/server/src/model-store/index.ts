export { resolveArchiveSource, type ArchiveSource } from './resolve-archive.js';
export { DEFAULT_DOWNLOAD_LIMITS, type DownloadLimits } from './download.js';
export { registerArchive } from './register-archive.js';
