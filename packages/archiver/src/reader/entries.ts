/** A regular file inside an archive, as a walker yields it; `chunks` must be drained before the next. */
export interface WalkedFile {
  path: string;
  /** Size the archive declares; the walker refuses content that runs past it. */
  size: number;
  compressedSize?: number;
  chunks: AsyncIterable<Buffer>;
}

export interface ArchiveEntry {
  path: string;
  size: number;
  compressedSize?: number;
}
