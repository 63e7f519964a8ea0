import type { Socket } from 'node:net';

/**
 * Length-prefixed binary frames between the server and its workers:
 * `u32 headerLength | u32 payloadLength | header (UTF-8 JSON) | payload`.
 * The header is small (ids, headers, descriptors); bodies and tensors travel as raw payload segments,
 * so a request body is never JSON-encoded or structured-cloned on its way to a worker.
 */
const PREFIX_BYTES = 8;
/** Segments start on 8-byte boundaries so typed arrays can view them without a copy when the frame is aligned. */
const SEGMENT_ALIGN = 8;
/** Frames come from our own processes; these bounds only catch a corrupted stream. */
const MAX_HEADER_BYTES = 64 * 1024 * 1024;
const MAX_PAYLOAD_BYTES = 2 * 1024 * 1024 * 1024;
const PADDING = Buffer.alloc(SEGMENT_ALIGN);

export class FrameError extends Error {
  override readonly name = 'FrameError';
}

/** Where each segment of a payload lies, in the order they were written. */
export type SegmentTable = Array<[offset: number, length: number]>;

/** Builds a frame's payload from byte segments: each `add` returns the segment's index for the header to reference. */
export class PayloadBuilder {
  readonly segments: SegmentTable = [];
  readonly parts: Uint8Array[] = [];
  private size = 0;
  /** Segments already added, by the memory they view: offset and length within each underlying buffer. */
  private readonly seen = new Map<ArrayBufferLike, Map<string, number>>();

  add(bytes: Uint8Array): number {
    // The same bytes often appear more than once (a request's `body` is also its `data` and its form
    // field), frequently as different view objects over one buffer: those travel once.
    let views = this.seen.get(bytes.buffer);
    const key = `${bytes.byteOffset}:${bytes.byteLength}`;
    const known = views?.get(key);
    if (known !== undefined) return known;
    const pad = (SEGMENT_ALIGN - (this.size % SEGMENT_ALIGN)) % SEGMENT_ALIGN;
    if (pad > 0) {
      this.parts.push(PADDING.subarray(0, pad));
      this.size += pad;
    }
    const index = this.segments.length;
    this.segments.push([this.size, bytes.byteLength]);
    this.parts.push(bytes);
    this.size += bytes.byteLength;
    if (views === undefined) {
      views = new Map();
      this.seen.set(bytes.buffer, views);
    }
    views.set(key, index);
    return index;
  }

  get byteLength(): number {
    return this.size;
  }
}

/**
 * Writes one frame. Corking turns the prefix, header and every segment into a single `writev`, and
 * the segments are handed to the socket as they are: a 100 KB body is not copied on this side.
 */
export function writeFrame(socket: Socket, header: object, payload?: PayloadBuilder): boolean {
  const headerBytes = Buffer.from(JSON.stringify(header));
  const payloadBytes = payload?.byteLength ?? 0;
  const prefix = Buffer.allocUnsafe(PREFIX_BYTES);
  prefix.writeUInt32BE(headerBytes.byteLength, 0);
  prefix.writeUInt32BE(payloadBytes, 4);
  socket.cork();
  socket.write(prefix);
  socket.write(headerBytes);
  let flushed = true;
  if (payload !== undefined) for (const part of payload.parts) flushed = socket.write(part);
  socket.uncork();
  return flushed;
}

export interface Frame<H> {
  header: H;
  payload: Buffer;
  segments: SegmentTable;
}

/** Returns segment `index` of a frame as a view into its payload (no copy). */
export function segment(frame: Frame<unknown>, index: number): Buffer {
  const entry = frame.segments[index];
  if (entry === undefined) throw new FrameError(`frame references segment ${index}, which it does not carry`);
  return frame.payload.subarray(entry[0], entry[0] + entry[1]);
}

/**
 * Splits a byte stream back into frames. A frame lying inside one received chunk is returned as views
 * into that chunk; one spread over several chunks is gathered once into a fresh buffer.
 */
export class FrameReader<H> {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private pending: { headerBytes: number; payloadBytes: number } | undefined;

  constructor(private readonly onFrame: (frame: Frame<H>) => void) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.byteLength;
    for (;;) {
      if (this.pending === undefined) {
        if (this.buffered < PREFIX_BYTES) return;
        const prefix = this.take(PREFIX_BYTES);
        const headerBytes = prefix.readUInt32BE(0);
        const payloadBytes = prefix.readUInt32BE(4);
        if (headerBytes > MAX_HEADER_BYTES || payloadBytes > MAX_PAYLOAD_BYTES) {
          throw new FrameError(`frame of ${headerBytes} + ${payloadBytes} bytes is over the limit: the stream is corrupt`);
        }
        this.pending = { headerBytes, payloadBytes };
      }
      const { headerBytes, payloadBytes } = this.pending;
      if (this.buffered < headerBytes + payloadBytes) return;
      this.pending = undefined;
      const header = JSON.parse(this.take(headerBytes).toString('utf8')) as H;
      const payload = this.take(payloadBytes);
      this.onFrame({ header, payload, segments: (header as { segments?: SegmentTable }).segments ?? [] });
    }
  }

  private take(n: number): Buffer {
    const first = this.chunks[0];
    if (n === 0) return Buffer.alloc(0);
    if (first === undefined) throw new FrameError('read past the end of the buffered stream');
    if (first.byteLength >= n) {
      const out = first.subarray(0, n);
      if (first.byteLength === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    // allocUnsafeSlow: a buffer of its own, 8-byte aligned, so typed-array views of segments need no copy.
    const out = Buffer.allocUnsafeSlow(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0]!;
      const used = Math.min(chunk.byteLength, n - filled);
      chunk.copy(out, filled, 0, used);
      filled += used;
      if (used === chunk.byteLength) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(used);
    }
    this.buffered -= n;
    return out;
  }
}
