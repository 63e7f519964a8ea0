export type DownloadErrorCode =
  | 'UNREACHABLE'
  | 'TIMEOUT'
  | 'HTTP_STATUS'
  | 'SIZE_MISMATCH'
  | 'CHECKSUM_MISMATCH';

/** A failed download; `code` is stable for scripts that match on it, the message is for people. */
export class DownloadError extends Error {
  constructor(
    readonly code: DownloadErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DownloadError';
  }
}
