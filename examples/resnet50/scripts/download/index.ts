export { DownloadError, type DownloadErrorCode } from './download-error.js';
export { DEFAULT_TIMEOUT_MS, downloadVerified, type DownloadResult, type VerifiedDownload } from './verified-download.js';
export { ARTIFACTS, DEFAULT_MODEL_DIR, IMAGENET_SYNSET, RESNET50_V1_7, type Artifact, type ArtifactKey } from './zoo-artifacts.js';
