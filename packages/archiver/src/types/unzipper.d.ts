/** The part of unzipper@0.12's API used here; the package ships no type declarations. */
declare module 'unzipper' {
  import type { Readable } from 'node:stream';

  export interface CentralDirectoryFile {
    path: string;
    pathBuffer: Buffer;
    type: 'File' | 'Directory';
    flags: number;
    compressionMethod: number;
    crc32: number;
    compressedSize: number;
    uncompressedSize: number;
    externalFileAttributes: number;
    stream(password?: string): Readable;
  }

  export interface CentralDirectory {
    numberOfRecords: number;
    files: CentralDirectoryFile[];
  }

  /** Where the archive's bytes come from: `stream(start)` reads to the end, `stream(start, length)` a range. */
  export interface Source {
    size(): Promise<number>;
    stream(start: number, length?: number): Readable;
  }

  export const Open: {
    file(path: string): Promise<CentralDirectory>;
    custom(source: Source, options?: { tailSize?: number }): Promise<CentralDirectory>;
  };
}
