import { Transform } from 'node:stream';

export interface ArchiveProgress {
  /** Path inside the archive. */
  path: string;
  bytes: number;
  total: number;
}

/** Files below this size are written too fast for progress to mean anything. */
export const PROGRESS_FROM_BYTES = 20 * 1024 * 1024;

/** Passes bytes through, reporting how many went by. */
export function progressStream(path: string, total: number, onProgress: (p: ArchiveProgress) => void): Transform {
  let bytes = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      onProgress({ path, bytes, total });
      done(null, chunk);
    },
  });
}
