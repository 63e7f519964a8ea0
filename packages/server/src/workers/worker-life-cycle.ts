import { type ChildProcess, spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import type { Logger } from '@nodeserve/handler-sdk';
import type { WireError } from './protocol.js';

export interface WorkerLifeCycleOptions {
  /** Path of the built worker entry (`worker-main.js`). */
  workerMain: string;
  /** Node options for the worker, e.g. a heap limit. */
  execArgv: string[];
  /** The worker's environment; the server's own when absent. */
  env?: NodeJS.ProcessEnv;
  logger: Logger;
  /** Fields every relayed stdout/stderr line is logged with (model, version, workerId). */
  logFields: Record<string, unknown>;
}

/** How a worker process ended. */
export interface ProcessExit {
  /** True only for a stop the server asked for, with no failure recorded: not a crash, timeout or failed start. */
  expected: boolean;
  /** `stopped`, or why it ended, for logs and for the `WorkerDied` its requests get. */
  reason: string;
}

/** How long a worker asked to stop may take before it is killed. */
const STOP_GRACE_MS = 5000;
/** Lines of stderr kept to explain a crash (the last lines name the cause: OOM, abort, uncaught error). */
const STDERR_TAIL_LINES = 20;

/**
 * A worker's operating-system process (TorchServe's `WorkerLifeCycle`): spawns it with the binary
 * channel on fd 3, relays its stdout and stderr to the log, stops it with a grace period, kills it,
 * and works out why it exited. What travels on the channel is `WorkerChannel`'s business.
 */
export class WorkerLifeCycle {
  /** The process's end of fd 3; destroyed once the process has exited. */
  readonly channel: Socket;
  /** Resolves once, when the process has exited (or could not be started). */
  readonly exited: Promise<ProcessExit>;

  private readonly child: ChildProcess;
  private ended = false;
  private stopRequested = false;
  /** Why the server ended it, or why it could not start: the first cause wins. */
  private failure: string | undefined;
  private fatal: WireError | undefined;
  private readonly stderrTail: string[] = [];
  private markExited!: (exit: ProcessExit) => void;

  constructor(private readonly options: WorkerLifeCycleOptions) {
    this.exited = new Promise((resolve) => (this.markExited = resolve));
    this.child = spawn(process.execPath, [...options.execArgv, options.workerMain], {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
    });
    this.channel = this.child.stdio[3] as Socket;
    // A broken channel shows up as the process exiting; that is where it is handled.
    this.channel.on('error', () => undefined);
    this.relay(this.child.stdout!, 'info');
    this.relay(this.child.stderr!, 'warn');
    this.child.on('error', (error) => {
      this.failure ??= `could not start: ${error.message}`;
      if (this.child.pid === undefined) this.onExit(null, null);
    });
    this.child.on('exit', (code, signal) => this.onExit(code, signal));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** True until the process has exited. */
  get alive(): boolean {
    return !this.ended;
  }

  /**
   * Records why the process is failing when it will end by itself (a handler that could not
   * initialise exits on its own); `kill` records its reason the same way.
   */
  fail(reason: string): void {
    this.failure ??= reason;
  }

  /** The worker's report of the uncaught error it is about to exit on. */
  lastWords(error: WireError): void {
    this.fatal = error;
  }

  /** Ends the process now; its exit is reported as a failure naming `reason`. */
  kill(reason: string): void {
    if (this.ended) return;
    this.fail(reason);
    this.child.kill('SIGKILL');
  }

  /**
   * Ends the process at the server's request: `ask` (a stop message on the channel) when it can
   * listen, else SIGTERM; SIGKILL if it is still there after the grace period.
   */
  stop(ask?: () => void): void {
    if (this.ended || this.stopRequested) return;
    this.stopRequested = true;
    if (ask === undefined) this.child.kill('SIGTERM');
    else ask();
    setTimeout(() => this.child.kill('SIGKILL'), STOP_GRACE_MS).unref();
  }

  private relay(stream: NodeJS.ReadableStream, level: 'info' | 'warn'): void {
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    const fields = { ...this.options.logFields, stream: level === 'warn' ? 'stderr' : 'stdout' };
    lines.on('line', (line) => {
      if (level === 'warn') {
        this.stderrTail.push(line);
        if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
      }
      this.options.logger[level](line, fields);
    });
  }

  private exitReason(code: number | null, signal: NodeJS.Signals | null): string {
    const how = signal !== null ? `killed by ${signal}` : `exited with code ${code}`;
    if (this.failure !== undefined) return `${this.failure} (${how})`;
    if (this.stderrTail.some((line) => /heap out of memory|Allocation failed/i.test(line))) return `it ran out of memory (${how})`;
    if (this.fatal !== undefined) return `uncaught ${this.fatal.type}: ${this.fatal.message} (${how})`;
    // Errors Node reports itself before any of ours could run (a missing module, a bad flag) end up on stderr.
    const lastError = this.stderrTail.findLast((line) => /\b[A-Za-z]*Error\b/.test(line));
    return lastError === undefined ? how : `${how}: ${lastError.trim()}`;
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.ended) return;
    this.ended = true;
    const expected = this.stopRequested && this.failure === undefined;
    this.channel.destroy();
    this.markExited({ expected, reason: expected ? 'stopped' : this.exitReason(code, signal) });
  }
}
