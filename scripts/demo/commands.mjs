import { spawn } from 'node:child_process';
import { relative, resolve } from 'node:path';
import { processTree, killAll } from './processes.mjs';

/**
 * Runs the demo's commands the way a reader would type them: each is printed first (`$ …`, with the
 * CLIs under their installed names), then run with its output shown. Keeps track of the command in
 * flight so an interrupt can stop it and everything it started.
 */
export class CommandRunner {
  /**
   * @param {{ cwd: string, aliases: Record<string, string[]>, out?: (line: string) => void }} o
   *   aliases: display name → the command line that runs it (e.g. model-server → node …/cli.js)
   */
  constructor(o) {
    this.cwd = o.cwd;
    this.aliases = o.aliases;
    this.out = o.out ?? ((line) => process.stdout.write(`${line}\n`));
    /** @type {Set<import('node:child_process').ChildProcess>} */
    this.running = new Set();
  }

  /** A path as the reader should type it from `cwd`. */
  show(/** @type {string} */ path) {
    const abs = resolve(this.cwd, path);
    const rel = relative(this.cwd, abs);
    // A short relative path reads best (../shared/images/kitten.jpg); one climbing further does not.
    return rel === '' ? '.' : rel.startsWith('../..') ? abs : rel;
  }

  /**
   * Prints `$ name args…` and runs it. Output is passed through unless `capture` is set.
   * @param {string} name a key of `aliases`, or a program on PATH
   * @param {string[]} args
   * @param {{ capture?: boolean, timeoutMs?: number }} [opts]
   * @returns {Promise<{ code: number | null, stdout: string, stderr: string }>}
   */
  run(name, args, opts = {}) {
    this.out(`$ ${[name, ...args].map(quote).join(' ')}`);
    const [cmd, ...pre] = this.aliases[name] ?? [name];
    return new Promise((resolvePromise, reject) => {
      const child = spawn(/** @type {string} */ (cmd), [...pre, ...args], {
        cwd: this.cwd,
        stdio: ['ignore', opts.capture ? 'pipe' : 'inherit', opts.capture ? 'pipe' : 'inherit'],
      });
      this.running.add(child);
      let stdout = '';
      let stderr = '';
      child.stdout?.on('data', (d) => (stdout += d));
      child.stderr?.on('data', (d) => (stderr += d));
      const timer =
        opts.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              stderr += `\n${name} did not finish within ${opts.timeoutMs} ms`;
              void killAll(child.pid === undefined ? [] : processTree(child.pid).reverse());
            }, opts.timeoutMs);
      child.on('error', (err) => {
        clearTimeout(timer);
        this.running.delete(child);
        reject(err);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        this.running.delete(child);
        resolvePromise({ code, stdout, stderr });
      });
    });
  }

  /** Stops every command in flight and whatever it started. */
  async stopRunning() {
    const pids = [...this.running].flatMap((c) => (c.pid === undefined ? [] : processTree(c.pid)));
    await killAll(pids.reverse());
  }
}

/** @param {string} arg */
function quote(arg) {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
