import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FIXTURES, SERVER_CLI, archive, curl, modelServer, serverDir, stopAndClean } from '../../../../test/support/model-server.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** A server still loading its initial models: one at a time, the pid file is its, and it can be stopped. */
describe('model-server while it starts', () => {
  const cwd = serverDir();
  let first: ChildProcess;
  let firstDone: Promise<{ code: number | null; stderr: string }>;
  let pid: number;
  let inference: string;

  beforeAll(async () => {
    archive(cwd, ['--model-name', 'slow', '--handler', path.join(FIXTURES, 'slow-init.mjs')]);
    first = spawn(process.execPath, [SERVER_CLI, '--start', '--model-store', 'model_store', '--models', 'slow.mar'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    first.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    firstDone = new Promise((resolve) => first.once('exit', (code) => resolve({ code, stderr })));
    pid = await waitFor('the pid file', () => {
      const file = path.join(cwd, 'logs/model-server.pid');
      return existsSync(file) ? Number(readFileSync(file, 'utf8')) || undefined : undefined;
    });
    // The ports are bound before models load; the run state has them only once ready, the server log at once.
    inference = await waitFor('the listening line', () => {
      const log = existsSync(path.join(cwd, 'logs/model-server.log')) ? readFileSync(path.join(cwd, 'logs/model-server.log'), 'utf8') : '';
      const line = log.split('\n').find((l) => l.includes('"listening"'));
      return line === undefined ? undefined : (JSON.parse(line) as { inference: string }).inference;
    });
  }, 60_000);

  afterAll(async () => {
    first.kill('SIGKILL');
    await stopAndClean(cwd);
  }, 60_000);

  it('is unhealthy on /ping and not ready on /v2/health/ready until its models are', async () => {
    const ping = await curl([`${inference}/ping`]);
    expect(ping.status).toBe(500);
    expect(JSON.parse(ping.body)).toEqual({ status: 'Unhealthy' });
    const ready = await curl([`${inference}/v2/health/ready`]);
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toEqual({ ready: false });
  });

  it('--status says it is starting', async () => {
    const status = await modelServer(cwd, ['--status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`model-server is starting (pid ${pid}`);
  });

  it('refuses a second --start in the same directory, naming the running pid', async () => {
    const second = await modelServer(cwd, ['--start', '--model-store', 'model_store', '--models', 'slow.mar']);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain(`already running (pid ${pid})`);
    expect(Number(readFileSync(path.join(cwd, 'logs/model-server.pid'), 'utf8'))).toBe(pid);
    expect(alive(pid)).toBe(true);
  }, 60_000);

  it('--stop ends it while its handler initializes, leaving no process and no pid file', async () => {
    const workers = await waitFor('a worker process', () => (children(pid).length > 0 ? children(pid) : undefined));
    // Old generations sized for serving (docs/server.md, "Memory and garbage collection").
    const flags = (p: number) => readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
    expect(flags(pid)).toContain('--initial-old-space-size=128');
    expect(flags(workers[0]!)).toContain('--initial-old-space-size=64');
    const stop = await modelServer(cwd, ['--stop', '--timeout', '30']);
    expect(stop.code).toBe(0);
    expect(stop.stdout).toContain(`model-server stopped (pid ${pid})`);
    const started = await firstDone;
    expect(started.code).not.toBe(0);
    expect(started.stderr).toMatch(/start-up aborted by SIGTERM/);
    expect(alive(pid)).toBe(false);
    await waitFor('the workers to end', () => (workers.every((w) => !alive(w)) ? true : undefined), 10_000);
    expect(existsSync(path.join(cwd, 'logs/model-server.pid'))).toBe(false);
    expect(existsSync(path.join(cwd, 'logs/model-server.json'))).toBe(false);
  }, 60_000);
});
