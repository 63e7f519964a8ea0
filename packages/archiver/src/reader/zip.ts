import { open, type FileHandle } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createInflateRaw, crc32 } from 'node:zlib';
import {
  ArchiveCompressionRatioError,
  ArchiveError,
  ArchiveLinkError,
  ArchiveTooLargeError,
  ArchiveTooManyEntriesError,
  ArchiveUnreadableError,
} from '../errors.js';
import { checkEntryPath } from './entry-path.js';
import type { WalkedFile } from './entries.js';
import { RATIO_CHECK_FLOOR_BYTES, type ArchiveLimits } from './limits.js';

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
const CENTRAL_HEADER_SIZE = 46;
const LOCAL_HEADER_SIZE = 30;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

interface CentralEntry {
  name: string;
  isDirectory: boolean;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

/**
 * Reads a zip's central directory and checks every entry (path, type, declared sizes and ratio)
 * before a single byte of content is inflated; then yields regular files in the given order.
 * Declared sizes can lie, so content is also counted as it inflates and cut off past its
 * declaration.
 */
export async function* zipEntries(file: string, limits: ArchiveLimits, first?: string): AsyncGenerator<WalkedFile> {
  const fh = await open(file, 'r');
  let entries: CentralEntry[];
  let fileSize: number;
  try {
    fileSize = (await fh.stat()).size;
    entries = await readCentralDirectory(fh, fileSize, limits);
    for (const entry of entries) {
      if (!entry.isDirectory) entry.localOffset = await dataOffset(fh, entry);
    }
  } finally {
    await fh.close();
  }
  checkNoOverlap(entries, fileSize);
  const files = entries.filter((e) => !e.isDirectory);
  files.sort((a, b) => Number(b.name === first) - Number(a.name === first));
  for (const entry of files) {
    yield { path: entry.name, size: entry.size, compressedSize: entry.compressedSize, chunks: inflateEntry(file, entry, limits) };
  }
}

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, position);
  if (bytesRead !== length) throw new ArchiveUnreadableError('zip is truncated');
  return buf;
}

async function readCentralDirectory(fh: FileHandle, fileSize: number, limits: ArchiveLimits): Promise<CentralEntry[]> {
  if (fileSize < EOCD_SIZE) throw new ArchiveUnreadableError('not a zip archive (too short)');
  const tailLength = Math.min(fileSize, EOCD_SIZE + MAX_COMMENT);
  const tail = await readAt(fh, fileSize - tailLength, tailLength);
  let at = -1;
  for (let i = tailLength - EOCD_SIZE; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD_SIGNATURE) {
      at = i;
      break;
    }
  }
  if (at < 0) throw new ArchiveUnreadableError('not a zip archive (no end of central directory)');
  const eocdPosition = fileSize - tailLength + at;
  let count = tail.readUInt16LE(at + 10);
  let cdSize = tail.readUInt32LE(at + 12);
  let cdOffset = tail.readUInt32LE(at + 16);
  if (tail.readUInt16LE(at + 4) !== 0 || tail.readUInt16LE(at + 6) !== 0) throw new ArchiveUnreadableError('multi-disk zip archives are not supported');

  if ((count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) && eocdPosition >= 20) {
    const locator = await readAt(fh, eocdPosition - 20, 20);
    if (locator.readUInt32LE(0) === ZIP64_LOCATOR_SIGNATURE) {
      const z64 = await readAt(fh, safeNumber(locator.readBigUInt64LE(8)), 56);
      if (z64.readUInt32LE(0) !== ZIP64_EOCD_SIGNATURE) throw new ArchiveUnreadableError('corrupt zip64 end of central directory');
      count = safeNumber(z64.readBigUInt64LE(32));
      cdSize = safeNumber(z64.readBigUInt64LE(40));
      cdOffset = safeNumber(z64.readBigUInt64LE(48));
    }
  }
  if (count > limits.maxEntries) throw new ArchiveTooManyEntriesError(limits.maxEntries);
  // Bounded by the entry count: each header is at most 46 bytes plus three 16-bit-length fields.
  if (cdOffset + cdSize > fileSize || cdSize > count * (CENTRAL_HEADER_SIZE + 3 * 0xffff)) {
    throw new ArchiveUnreadableError('corrupt zip central directory');
  }
  const cd = await readAt(fh, cdOffset, cdSize);
  const entries: CentralEntry[] = [];
  let declaredTotal = 0;
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + CENTRAL_HEADER_SIZE > cd.length || cd.readUInt32LE(p) !== CENTRAL_SIGNATURE) throw new ArchiveUnreadableError('corrupt zip central directory');
    const flags = cd.readUInt16LE(p + 8);
    const method = cd.readUInt16LE(p + 10);
    const crc = cd.readUInt32LE(p + 16);
    let compressedSize = cd.readUInt32LE(p + 20);
    let size = cd.readUInt32LE(p + 24);
    const nameLength = cd.readUInt16LE(p + 28);
    const extraLength = cd.readUInt16LE(p + 30);
    const commentLength = cd.readUInt16LE(p + 32);
    const mode = cd.readUInt32LE(p + 38) >>> 16;
    let localOffset = cd.readUInt32LE(p + 42);
    const rawName = cd.subarray(p + CENTRAL_HEADER_SIZE, p + CENTRAL_HEADER_SIZE + nameLength);
    const extra = cd.subarray(p + CENTRAL_HEADER_SIZE + nameLength, p + CENTRAL_HEADER_SIZE + nameLength + extraLength);
    p += CENTRAL_HEADER_SIZE + nameLength + extraLength + commentLength;

    // Bit 11 marks UTF-8 names; others are CP437, of which the ASCII subset is all a model needs.
    const raw = flags & 0x800 ? rawName.toString('utf8') : rawName.toString('latin1');
    const fileType = mode & S_IFMT;
    if (fileType === S_IFLNK) throw new ArchiveLinkError(raw, 'symbolic link');
    if (fileType !== 0 && fileType !== S_IFREG && fileType !== S_IFDIR) throw new ArchiveLinkError(raw, 'special file');
    const name = checkEntryPath(raw);
    const isDirectory = raw.endsWith('/') || fileType === S_IFDIR;

    ({ size, compressedSize, localOffset } = applyZip64(extra, size, compressedSize, localOffset));
    if (isDirectory) {
      entries.push({ name, isDirectory, method, crc, compressedSize: 0, size: 0, localOffset });
      continue;
    }
    if (flags & 0x1) throw new ArchiveUnreadableError(`entry "${name}" is encrypted`);
    if (method !== 0 && method !== 8) throw new ArchiveUnreadableError(`entry "${name}" uses unsupported compression method ${method}`);
    if (method === 0 && size !== compressedSize) throw new ArchiveUnreadableError(`stored entry "${name}" declares different sizes`);
    if (size > limits.maxEntryBytes) throw new ArchiveTooLargeError(`entry "${name}" declares ${size} bytes, over the ${limits.maxEntryBytes}-byte limit per entry`);
    declaredTotal += size;
    if (declaredTotal > limits.maxTotalBytes) throw new ArchiveTooLargeError(`entries declare more than ${limits.maxTotalBytes} bytes in total`);
    if (size > RATIO_CHECK_FLOOR_BYTES && size > compressedSize * limits.maxCompressionRatio) {
      throw new ArchiveCompressionRatioError(`entry "${name}"`, limits.maxCompressionRatio);
    }
    entries.push({ name, isDirectory, method, crc, compressedSize, size, localOffset });
  }
  return entries;
}

function applyZip64(extra: Buffer, size: number, compressedSize: number, localOffset: number) {
  let p = 0;
  while (p + 4 <= extra.length) {
    const id = extra.readUInt16LE(p);
    const length = extra.readUInt16LE(p + 2);
    if (id === 0x0001) {
      let q = p + 4;
      const next = () => {
        if (q + 8 > p + 4 + length) throw new ArchiveUnreadableError('corrupt zip64 extra field');
        const value = safeNumber(extra.readBigUInt64LE(q));
        q += 8;
        return value;
      };
      if (size === 0xffffffff) size = next();
      if (compressedSize === 0xffffffff) compressedSize = next();
      if (localOffset === 0xffffffff) localOffset = next();
    }
    p += 4 + length;
  }
  return { size, compressedSize, localOffset };
}

function safeNumber(value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ArchiveUnreadableError('zip offsets out of range');
  return Number(value);
}

/** Returns where the entry's data begins, past its local header (whose lengths may differ from the central one). */
async function dataOffset(fh: FileHandle, entry: CentralEntry): Promise<number> {
  const header = await readAt(fh, entry.localOffset, LOCAL_HEADER_SIZE);
  if (header.readUInt32LE(0) !== LOCAL_SIGNATURE) throw new ArchiveUnreadableError(`entry "${entry.name}" has no local header`);
  return entry.localOffset + LOCAL_HEADER_SIZE + header.readUInt16LE(26) + header.readUInt16LE(28);
}

/** Entries sharing bytes are the trick behind non-recursive zip bombs; honest archives never overlap. */
function checkNoOverlap(entries: CentralEntry[], fileSize: number): void {
  const ranges = entries.filter((e) => !e.isDirectory).sort((a, b) => a.localOffset - b.localOffset);
  let end = 0;
  for (const entry of ranges) {
    if (entry.localOffset < end) throw new ArchiveUnreadableError(`entry "${entry.name}" overlaps another entry`);
    end = entry.localOffset + entry.compressedSize;
    if (end > fileSize) throw new ArchiveUnreadableError(`entry "${entry.name}" runs past the end of the archive`);
  }
}

async function* inflateEntry(file: string, entry: CentralEntry, limits: ArchiveLimits): AsyncGenerator<Buffer> {
  if (entry.compressedSize === 0) {
    if (entry.size !== 0) throw new ArchiveUnreadableError(`entry "${entry.name}" is truncated`);
    return;
  }
  const raw = createReadStream(file, { start: entry.localOffset, end: entry.localOffset + entry.compressedSize - 1 });
  const source = entry.method === 8 ? raw.pipe(createInflateRaw()) : raw;
  let count = 0;
  let crc = 0;
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      count += chunk.length;
      if (count > entry.size) throw new ArchiveTooLargeError(`entry "${entry.name}" inflates past its declared ${entry.size} bytes`);
      crc = crc32(chunk, crc);
      yield chunk;
    }
  } catch (err) {
    if (err instanceof Error && !(err instanceof ArchiveError)) {
      throw new ArchiveUnreadableError(`entry "${entry.name}" cannot be inflated: ${err.message}`);
    }
    throw err;
  } finally {
    raw.destroy();
    source.destroy();
  }
  if (count !== entry.size) throw new ArchiveUnreadableError(`entry "${entry.name}" is ${count} bytes, not the declared ${entry.size}`);
  if (crc !== entry.crc) throw new ArchiveUnreadableError(`entry "${entry.name}" fails its CRC check`);
}
