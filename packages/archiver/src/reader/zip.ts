import { createReadStream, type ReadStream } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { Open, type CentralDirectoryFile, type Source } from 'unzipper';
import {
  ArchiveCompressionRatio,
  ArchiveError,
  ArchiveLink,
  ArchiveTooLarge,
  ArchiveTooManyEntries,
  ArchiveUnreadable,
} from '../errors.js';
import { checkEntryPath } from './entry-path.js';
import type { WalkedFile } from './entries.js';
import { RATIO_CHECK_FLOOR_BYTES, type ArchiveLimits } from './limits.js';

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const FLAG_ENCRYPTED = 0x1;
const FLAG_UTF8 = 0x800;
const METHOD_STORE = 0;
const METHOD_DEFLATE = 8;
/** unzipper looks for the end-of-central-directory record in this many trailing bytes and takes the first match. */
const TAIL_BYTES = 80;
const EOCD_SIGNATURE = Buffer.from([0x50, 0x4b, 0x05, 0x06]);
const EOCD_SIZE = 22;
const ZIP64_LOCATOR_SIZE = 20;
const ZIP64_EOCD_SIZE = 56;

interface CheckedEntry {
  name: string;
  file: CentralDirectoryFile;
}

/**
 * Bytes per read of the archive file. Every chunk costs a read, a CRC and hash update and a write with
 * an await between them; at the 64 KiB default a 100 MB model took ~1,600 such round trips.
 */
const READ_CHUNK_BYTES = 1024 * 1024;

/**
 * The archive file as unzipper reads it, keeping every read stream it opens so that none outlives
 * the walk (unzipper leaves a partly read range paused, holding its descriptor, when its consumer
 * stops early) and so that a read error reaches the consumer instead of going unheard.
 */
class TrackedFile implements Source {
  private readonly open = new Set<ReadStream>();
  private onError: (err: Error) => void = () => undefined;

  constructor(readonly path: string) {}

  async size(): Promise<number> {
    return (await stat(this.path)).size;
  }

  stream(start: number, length?: number): Readable {
    const stream = createReadStream(this.path, { start, highWaterMark: READ_CHUNK_BYTES, ...(length === undefined ? {} : { end: start + length }) });
    this.open.add(stream);
    stream.once('close', () => this.open.delete(stream));
    stream.on('error', (err) => this.onError(err));
    return stream;
  }

  /** Routes read errors to `handler` until the next call. */
  reportErrorsTo(handler: (err: Error) => void): void {
    this.onError = handler;
  }

  closeAll(): void {
    for (const stream of this.open) stream.destroy();
    this.open.clear();
  }
}

/**
 * Reads a zip's central directory with unzipper and checks every entry (path, type, declared sizes
 * and ratio) before a single byte of content is inflated; then yields regular files in the given
 * order. Declared sizes can lie, so content is also counted as it inflates and cut off past its
 * declaration.
 */
export async function* zipEntries(file: string, limits: ArchiveLimits, first?: string): AsyncGenerator<WalkedFile> {
  const source = new TrackedFile(file);
  try {
    const files = await readDirectory(source, limits);
    files.sort((a, b) => Number(b.name === first) - Number(a.name === first));
    for (const entry of files) {
      yield {
        path: entry.name,
        size: entry.file.uncompressedSize,
        compressedSize: entry.file.compressedSize,
        chunks: inflateEntry(source, entry),
      };
    }
  } finally {
    source.closeAll();
  }
}

async function readDirectory(source: TrackedFile, limits: ArchiveLimits): Promise<CheckedEntry[]> {
  if ((await declaredEntryCount(source)) > limits.maxEntries) throw new ArchiveTooManyEntries(limits.maxEntries);
  let files: CentralDirectoryFile[];
  try {
    const failed = new Promise<never>((_, reject) => source.reportErrorsTo(reject));
    const directory = await Promise.race([Open.custom(source, { tailSize: TAIL_BYTES }), failed]);
    files = directory.files;
  } catch (err) {
    throw new ArchiveUnreadable(`not a readable zip archive: ${(err as Error).message}`);
  } finally {
    // The directory's own reads run to the end of the file; nothing after this needs them.
    source.closeAll();
  }

  const checked: CheckedEntry[] = [];
  let declaredTotal = 0;
  for (const file of files) {
    // unzipper always decodes names as UTF-8; bit 11 marks UTF-8 names, the others are CP437,
    // of which the ASCII subset is all a model needs.
    const raw = file.flags & FLAG_UTF8 ? file.pathBuffer.toString('utf8') : file.pathBuffer.toString('latin1');
    const fileType = (file.externalFileAttributes >>> 16) & S_IFMT;
    if (fileType === S_IFLNK) throw new ArchiveLink(raw, 'symbolic link');
    if (fileType !== 0 && fileType !== S_IFREG && fileType !== S_IFDIR) throw new ArchiveLink(raw, 'special file');
    const name = checkEntryPath(raw);
    if (raw.endsWith('/') || fileType === S_IFDIR) continue;

    const size = file.uncompressedSize;
    const compressedSize = file.compressedSize;
    if (!Number.isSafeInteger(size) || !Number.isSafeInteger(compressedSize)) throw new ArchiveUnreadable(`entry "${name}" declares sizes out of range`);
    if (file.flags & FLAG_ENCRYPTED) throw new ArchiveUnreadable(`entry "${name}" is encrypted`);
    const method = file.compressionMethod;
    if (method !== METHOD_STORE && method !== METHOD_DEFLATE) throw new ArchiveUnreadable(`entry "${name}" uses unsupported compression method ${method}`);
    if (method === METHOD_STORE && size !== compressedSize) throw new ArchiveUnreadable(`stored entry "${name}" declares different sizes`);
    if (size > limits.maxEntryBytes) throw new ArchiveTooLarge(`entry "${name}" declares ${size} bytes, over the ${limits.maxEntryBytes}-byte limit per entry`);
    declaredTotal += size;
    if (declaredTotal > limits.maxTotalBytes) throw new ArchiveTooLarge(`entries declare more than ${limits.maxTotalBytes} bytes in total`);
    if (size > RATIO_CHECK_FLOOR_BYTES && size > compressedSize * limits.maxCompressionRatio) {
      throw new ArchiveCompressionRatio(`entry "${name}"`, limits.maxCompressionRatio);
    }
    checked.push({ name, file });
  }
  return checked;
}

/**
 * The entry count the end-of-central-directory record declares, read from the same record unzipper
 * will use. unzipper parses every central record before returning any (about 1.5 KiB of memory per
 * 46-byte record: a 100 MB directory of empty records would cost gigabytes), so the count limit
 * must be applied before unzipper starts. Anything malformed is left for unzipper to refuse.
 */
async function declaredEntryCount(source: TrackedFile): Promise<number> {
  const size = await source.size().catch((err: Error) => {
    throw new ArchiveUnreadable(`cannot read the archive: ${err.message}`);
  });
  const fh = await open(source.path, 'r');
  try {
    const tailStart = Math.max(0, size - TAIL_BYTES);
    const tail = await readAt(fh, tailStart, size - tailStart);
    const at = tail.indexOf(EOCD_SIGNATURE);
    if (at < 0 || at + EOCD_SIZE > tail.length) return 0;
    const count = tail.readUInt16LE(at + 10);
    const zip64 = tail.readUInt16LE(at + 4) === 0xffff || count === 0xffff || tail.readUInt32LE(at + 16) === 0xffffffff;
    if (!zip64) return count;
    const locatorAt = tailStart + at - ZIP64_LOCATOR_SIZE;
    if (locatorAt < 0) return 0;
    const locator = await readAt(fh, locatorAt, ZIP64_LOCATOR_SIZE);
    const record = await readAt(fh, Number(locator.readBigUInt64LE(8)), ZIP64_EOCD_SIZE);
    return Number(record.readBigUInt64LE(32));
  } finally {
    await fh.close();
  }
}

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = position + length <= Number.MAX_SAFE_INTEGER ? await fh.read(buf, 0, length, position) : { bytesRead: 0 };
  if (bytesRead !== length) throw new ArchiveUnreadable('zip is truncated');
  return buf;
}

/**
 * Inflates one entry, never yielding more than its declared size. Every declared size has passed
 * the per-entry, total and ratio limits, so bounding each entry by its declaration bounds the real
 * bytes by the limits too. That bound is also why entries that share bytes (the trick of
 * non-recursive zip bombs) need no separate check: however entries overlap, none can yield more
 * than it declared.
 */
async function* inflateEntry(source: TrackedFile, entry: CheckedEntry): AsyncGenerator<Buffer> {
  const { name, file } = entry;
  const declared = file.uncompressedSize;
  // unzipper reads the local header's sizes when the central directory declares no compressed
  // bytes; an entry that declares none has nothing to inflate, so it is never opened.
  if (file.compressedSize === 0) {
    if (declared !== 0) throw new ArchiveUnreadable(`entry "${name}" is truncated`);
    return;
  }
  const stream = file.stream();
  source.reportErrorsTo((err) => stream.destroy(err));
  let count = 0;
  let crc = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      count += chunk.length;
      if (count > declared) throw new ArchiveTooLarge(`entry "${name}" inflates past its declared ${declared} bytes`);
      crc = crc32(chunk, crc);
      yield chunk;
    }
  } catch (err) {
    if (err instanceof Error && !(err instanceof ArchiveError)) {
      throw new ArchiveUnreadable(`entry "${name}" cannot be read: ${err.message}`);
    }
    throw err;
  } finally {
    stream.destroy();
    source.closeAll();
  }
  if (count !== declared) throw new ArchiveUnreadable(`entry "${name}" is ${count} bytes, not the declared ${declared}`);
  if (crc !== file.crc32) throw new ArchiveUnreadable(`entry "${name}" fails its CRC check`);
}
