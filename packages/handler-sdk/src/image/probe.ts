import { ImageUnreadable, ImageTooLarge } from '../errors.js';

export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'bmp';

export interface ImageHeader {
  format: ImageFormat;
  /** As stored, before any EXIF rotation. */
  width: number;
  height: number;
  /**
   * A JPEG's EXIF orientation (1–8, TIFF tag 0x0112) when its APP1 segment gives one; 5–8 are stored
   * sideways. Read here so the decoder knows the upright size without a pass of its own.
   */
  orientation?: number;
}

export const SUPPORTED_FORMATS = 'JPEG, PNG, WebP, GIF or BMP';

const u16be = (b: Uint8Array, i: number): number => (b[i]! << 8) | b[i + 1]!;
const u16le = (b: Uint8Array, i: number): number => b[i]! | (b[i + 1]! << 8);
const u24le = (b: Uint8Array, i: number): number => b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16);
const i32le = (b: Uint8Array, i: number): number => b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
const u32be = (b: Uint8Array, i: number): number => ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
const ascii = (b: Uint8Array, i: number, n: number): string => String.fromCharCode(...b.subarray(i, i + n));

function truncated(format: ImageFormat): ImageUnreadable {
  return new ImageUnreadable(`the ${format.toUpperCase()} image is truncated: its header is incomplete`);
}

/** Start-of-frame markers carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not. */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

const u16 = (b: Uint8Array, i: number, little: boolean): number => (little ? u16le(b, i) : u16be(b, i));
const u32 = (b: Uint8Array, i: number, little: boolean): number => (little ? (u16le(b, i) | (u16le(b, i + 2) << 16)) >>> 0 : u32be(b, i));

/**
 * The orientation tag of IFD0 in an EXIF APP1 segment's payload (`Exif\0\0` then a TIFF header),
 * or undefined when it is absent, out of range or the segment is malformed: then decoders take the
 * image as stored, and so does this.
 */
function exifOrientation(b: Uint8Array, start: number, end: number): number | undefined {
  if (end - start < 14 || ascii(b, start, 6) !== 'Exif\0\0') return undefined;
  const tiff = start + 6;
  const order = ascii(b, tiff, 2);
  if (order !== 'II' && order !== 'MM') return undefined;
  const little = order === 'II';
  const ifd = tiff + u32(b, tiff + 4, little);
  if (ifd + 2 > end) return undefined;
  const entries = u16(b, ifd, little);
  for (let n = 0, e = ifd + 2; n < entries && e + 12 <= end; n++, e += 12) {
    // Tag 0x0112, type SHORT (3): the value sits in the entry's first two value bytes.
    if (u16(b, e, little) !== 0x0112) continue;
    const value = u16(b, e + 2, little) === 3 ? u16(b, e + 8, little) : 0;
    return value >= 1 && value <= 8 ? value : undefined;
  }
  return undefined;
}

function jpegSize(b: Uint8Array): { width: number; height: number; orientation?: number } {
  let orientation: number | undefined;
  let exifSeen = false;
  let i = 2;
  while (i + 3 < b.length) {
    if (b[i] !== 0xff) throw new ImageUnreadable('the JPEG image is corrupt: a marker was expected');
    const marker = b[i + 1]!;
    if (marker === 0xff) {
      i += 1;
      continue;
    }
    // Markers without a length field.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      i += 2;
      continue;
    }
    if (isStartOfFrame(marker)) {
      if (i + 9 > b.length) break;
      const size = { height: u16be(b, i + 5), width: u16be(b, i + 7) };
      return orientation === undefined ? size : { ...size, orientation };
    }
    if (marker === 0xd9 || marker === 0xda) break;
    const length = u16be(b, i + 2);
    // The first APP1 Exif segment is the one decoders read (XMP also lives in APP1).
    if (marker === 0xe1 && !exifSeen && ascii(b, i + 4, 4) === 'Exif') {
      exifSeen = true;
      orientation = exifOrientation(b, i + 4, Math.min(b.length, i + 2 + length));
    }
    i += 2 + length;
  }
  throw truncated('jpeg');
}

function webpSize(b: Uint8Array): { width: number; height: number } {
  const chunk = ascii(b, 12, 4);
  if (chunk === 'VP8X' && b.length >= 30) return { width: 1 + u24le(b, 24), height: 1 + u24le(b, 27) };
  if (chunk === 'VP8L' && b.length >= 25) {
    const b1 = b[22]!, b2 = b[23]!, b3 = b[24]!;
    return { width: 1 + (b[21]! | ((b1 & 0x3f) << 8)), height: 1 + ((b1 >> 6) | (b2 << 2) | ((b3 & 0x0f) << 10)) };
  }
  if (chunk === 'VP8 ' && b.length >= 30) return { width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff };
  throw truncated('webp');
}

/** The format an image's first bytes announce, or `undefined`: nothing is parsed past the signature. */
export function sniffImageFormat(b: Uint8Array): ImageFormat | undefined {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 8 && u32be(b, 0) === 0x89504e47 && u32be(b, 4) === 0x0d0a1a0a) return 'png';
  if (b.length >= 6 && (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a')) return 'gif';
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WEBP') return 'webp';
  if (b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d) return 'bmp';
  return undefined;
}

function identify(b: Uint8Array): ImageHeader {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return { format: 'jpeg', ...jpegSize(b) };
  if (b.length >= 8 && u32be(b, 0) === 0x89504e47 && u32be(b, 4) === 0x0d0a1a0a) {
    if (b.length < 24 || ascii(b, 12, 4) !== 'IHDR') throw truncated('png');
    return { format: 'png', width: u32be(b, 16), height: u32be(b, 20) };
  }
  if (b.length >= 6 && (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a')) {
    if (b.length < 10) throw truncated('gif');
    return { format: 'gif', width: u16le(b, 6), height: u16le(b, 8) };
  }
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WEBP') return { format: 'webp', ...webpSize(b) };
  if (b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d) {
    if (b.length < 26) throw truncated('bmp');
    const core = i32le(b, 14) === 12;
    const width = core ? u16le(b, 18) : i32le(b, 18);
    const height = core ? u16le(b, 20) : i32le(b, 22);
    return { format: 'bmp', width: Math.abs(width), height: Math.abs(height) };
  }
  throw new ImageUnreadable(`the request body is not an image: expected ${SUPPORTED_FORMATS}`);
}

/**
 * Reads the format and size from the image's header without decoding it, and enforces the pixel
 * limit there: a small file may declare an enormous image (a decompression bomb), and only the
 * header says so before the decoder allocates it.
 */
export function probeImage(bytes: Uint8Array, maxPixels: number): ImageHeader {
  if (bytes.length === 0) throw new ImageUnreadable(`the request body is empty: send an image (${SUPPORTED_FORMATS})`);
  const header = identify(bytes);
  if (header.width === 0 || header.height === 0) throw new ImageUnreadable(`the ${header.format.toUpperCase()} image declares a zero size`);
  if (header.width * header.height > maxPixels) {
    throw new ImageTooLarge(
      `the image is ${header.width}x${header.height} (${header.width * header.height} pixels), over the limit of ${maxPixels} pixels`,
    );
  }
  return header;
}
