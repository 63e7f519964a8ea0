import type { Logger } from '@nodeserve/handler-sdk';
import type { LineSink } from './sink.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** The structured server log (`model-server.log`): one JSON object per line. */
export class ServerLogger implements Logger {
  constructor(
    private readonly sink: LineSink,
    private readonly minLevel: LogLevel = 'info',
    private readonly bindings: Record<string, unknown> = {},
  ) {}

  /** A logger that adds `bindings` (e.g. the model name) to every line. */
  child(bindings: Record<string, unknown>): ServerLogger {
    return new ServerLogger(this.sink, this.minLevel, { ...this.bindings, ...bindings });
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.write('debug', msg, fields);
  }

  info(msg: string, fields?: Record<string, unknown>): void {
    this.write('info', msg, fields);
  }

  warn(msg: string, fields?: Record<string, unknown>): void {
    this.write('warn', msg, fields);
  }

  error(msg: string, fields?: Record<string, unknown>): void {
    this.write('error', msg, fields);
  }

  close(): Promise<void> {
    return this.sink.close();
  }

  private write(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (RANK[level] < RANK[this.minLevel]) return;
    const record = { time: new Date().toISOString(), level, msg, ...this.bindings, ...fields };
    this.sink.write(JSON.stringify(record, replaceErrors));
  }
}

/** Errors serialise to `{}` by default; keep what an operator needs, the stack included. */
function replaceErrors(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const { name, message, stack } = value;
    const code = (value as { code?: unknown }).code;
    return { name, message, ...(code === undefined ? {} : { code }), stack };
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}
