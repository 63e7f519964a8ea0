import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A client on a bare TCP socket (node:net), for what HTTP libraries will not do: send a request in
 * pieces at a chosen pace, pipeline requests, hold a connection idle, and see exactly what the server
 * wrote and when it closed the connection.
 */

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export class RawConnection {
  private readonly socket: net.Socket;
  private received = Buffer.alloc(0);
  private readonly opened = Date.now();
  private closedAt: number | undefined;
  private readonly closed: Promise<void>;
  readonly connected: Promise<void>;
  /** Set when the server reset the connection rather than closing it. */
  error: string | undefined;

  constructor(url: string) {
    const { hostname, port } = new URL(url);
    this.socket = net.connect(Number(port), hostname);
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.socket.on('data', (chunk: Buffer) => (this.received = Buffer.concat([this.received, chunk])));
    this.socket.on('error', (error: NodeJS.ErrnoException) => (this.error = error.code ?? error.message));
    this.closed = new Promise((resolve) =>
      this.socket.once('close', () => {
        this.closedAt = Date.now();
        resolve();
      }),
    );
  }

  /** Writes bytes as they are; resolves once the kernel has them. */
  async send(data: string | Buffer): Promise<void> {
    await this.connected;
    await new Promise<void>((resolve, reject) => this.socket.write(data, (error) => (error ? reject(error) : resolve())));
  }

  /** Sends `data` in `pieces` writes spread evenly over `overMs`. */
  async trickle(data: string, pieces: number, overMs: number): Promise<void> {
    const size = Math.ceil(data.length / pieces);
    for (let at = 0; at < data.length; at += size) {
      if (at > 0) await sleep(overMs / (pieces - 1));
      await this.send(data.slice(at, at + size));
    }
  }

  /** Every complete answer received so far, in order. */
  answers(): RawAnswer[] {
    return parseAnswers(this.received);
  }

  /** Waits until `count` answers have arrived (or the connection closed); they are returned. */
  async waitForAnswers(count: number, timeoutMs = 10_000): Promise<RawAnswer[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.answers().length < count && this.closedAt === undefined && Date.now() < deadline) await sleep(10);
    return this.answers();
  }

  /** Resolves with the milliseconds from opening to the server's close, or undefined if still open after `timeoutMs`. */
  async waitForClose(timeoutMs = 10_000): Promise<number | undefined> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.closed, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    return this.closedAt === undefined ? undefined : this.closedAt - this.opened;
  }

  get isClosed(): boolean {
    return this.closedAt !== undefined;
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Closes as a polite client does (FIN) and waits until the server has closed its side too. */
  async end(timeoutMs = 5_000): Promise<void> {
    this.socket.end();
    await this.waitForClose(timeoutMs);
  }
}

/** Opens `count` connections at once and waits until each is connected. */
export async function openConnections(url: string, count: number): Promise<RawConnection[]> {
  const connections = Array.from({ length: count }, () => new RawConnection(url));
  await Promise.all(connections.map((c) => c.connected));
  return connections;
}

/** One HTTP/1.1 request as bytes, with `Host` and, for a body, `Content-Length`. */
export function rawRequest(method: string, path: string, options: { body?: string; headers?: Record<string, string> } = {}): string {
  const headers = { host: '127.0.0.1', ...options.headers, ...(options.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(options.body)) }) };
  const head = [`${method} ${path} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)].join('\r\n');
  return `${head}\r\n\r\n${options.body ?? ''}`;
}

/** Splits what a server wrote into answers (status, headers, `Content-Length` body); a partial last one is left out. */
export function parseAnswers(data: Buffer): RawAnswer[] {
  const answers: RawAnswer[] = [];
  let at = 0;
  while (at < data.length) {
    const end = data.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const [statusLine = '', ...lines] = data.subarray(at, end).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    if (end + 4 + length > data.length) break;
    answers.push({ status: Number(statusLine.split(' ')[1]), headers, body: data.subarray(end + 4, end + 4 + length).toString('utf8') });
    at = end + 4 + length;
  }
  return answers;
}
