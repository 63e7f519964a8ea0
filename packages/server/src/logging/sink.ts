import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';

/** Where log lines go: an append-only file, optionally mirrored to a terminal. */
export interface LineSink {
  write(line: string): void;
  close(): Promise<void>;
}

export function fileSink(file: string, mirror?: NodeJS.WritableStream): LineSink {
  mkdirSync(path.dirname(file), { recursive: true });
  const stream = createWriteStream(file, { flags: 'a' });
  // A full disk or a removed log directory must not take the server down with it.
  stream.on('error', () => undefined);
  return {
    write(line) {
      stream.write(`${line}\n`);
      mirror?.write(`${line}\n`);
    },
    close() {
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
