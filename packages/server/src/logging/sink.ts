import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';

/** Where log lines go: an append-only file, optionally mirrored to a terminal. */
export interface LineSink {
  write(line: string): void;
  close(): Promise<void>;
}

/** Pending bytes at which lines are written at once rather than at the end of this turn of the event loop. */
const FLUSH_BYTES = 64 * 1024;

/**
 * With `batch`, the lines written in one turn of the event loop go to the file as one write: under
 * load that is one write for dozens of access-log lines instead of a stream write (and a file system
 * request) each. Without it (the server log) each line is handed to the stream as it is written.
 */
export function fileSink(file: string, mirror?: NodeJS.WritableStream, options: { batch?: boolean } = {}): LineSink {
  mkdirSync(path.dirname(file), { recursive: true });
  const stream = createWriteStream(file, { flags: 'a' });
  // A full disk or a removed log directory must not take the server down with it.
  stream.on('error', () => undefined);
  let pending = '';
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending === '') return;
    const text = pending;
    pending = '';
    stream.write(text);
    mirror?.write(text);
  };
  return {
    write(line) {
      pending += `${line}\n`;
      if (options.batch !== true || pending.length >= FLUSH_BYTES) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    close() {
      flush();
      return new Promise((resolve) => stream.end(resolve));
    },
  };
}

/** Collects lines in memory: for servers embedded in tests or tools that read their own logs. */
export function memorySink(): LineSink & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    write(line) {
      lines.push(line);
    },
    close: () => Promise.resolve(),
  };
}
