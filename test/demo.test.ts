import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { contenders } from './support/imagenet-reference.js';
import { isAlive } from './support/model-server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DEMO = join(ROOT, 'scripts/demo.mjs');
const MOBILENET = join(ROOT, '../shared/models/mobilenetv2-12-int8.onnx');
const KITTEN = join(ROOT, '../shared/images/kitten.jpg');

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs the demo as `npm run demo` would (after the build), on free ports, in a scratch directory. */
function runDemo(workdir: string, extra: string[] = []): Run {
  const child = spawn(
    process.execPath,
    [DEMO, '--port', '0', '--workdir', workdir, '--weights', MOBILENET, '--images', KITTEN, ...extra],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let text = '';
  child.stdout!.on('data', (d) => (text += d));
  child.stderr!.on('data', (d) => (text += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => text, exited };
}

/** Processes whose working directory is inside `dir`: the server and its workers run there. */
async function processesIn(dir: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cwd = await readlink(`/proc/${entry}/cwd`).catch(() => '');
    if (cwd === dir || cwd.startsWith(`${dir}/`)) found.push(Number(entry));
  }
  return found;
}

function serverPid(output: string): number {
  const m = /model-server is up \(pid (\d+)\)/.exec(output);
  if (!m) throw new Error(`the demo never reported the server up:\n${output}`);
  return Number(m[1]);
}

async function waitFor(predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('npm run demo', () => {
  let workdir: string;

  beforeEach(async () => {
    workdir = await mkdtemp(join(tmpdir(), 'nodeserve-demo-test-'));
  });

  afterEach(async () => {
    await rm(workdir, { recursive: true, force: true });
  });

  it('archives, serves and classifies kitten.jpg as a cat with mobilenetv2-12-int8, printing each command, then stops the server', async () => {
    const run = runDemo(workdir);
    const { code } = await run.exited;
    const out = run.output();
    expect({ code, out }).toEqual({ code: 0, out: expect.any(String) });

    expect(out).toMatch(/^\$ model-archiver --model-name resnet50 .*--serialized-file \S*mobilenetv2-12-int8\.onnx/m);
    expect(out).toMatch(/^\$ model-server --start --model-store \S+ --models resnet50=resnet50\.mar/m);
    expect(out).toMatch(/^\$ curl -sS -X POST http:\/\/127\.0\.0\.1:\d+\/predictions\/resnet50 -T \S*kitten\.jpg$/m);
    expect(out).toMatch(/^\$ model-server --stop$/m);

    const top5 = /^top-5:\n((?: {2}\d\. .*\n){5})/m.exec(out);
    expect(top5).not.toBeNull();
    const labels = top5![1]!.trim().split('\n').map((line) => line.replace(/^\s*\d\.\s+/, '').replace(/\s+[\d.]+ %$/, ''));
    expect(labels).toHaveLength(5);
    expect(contenders('kitten.jpg')).toContain(labels[0]);

    const pid = serverPid(out);
    expect(isAlive(pid)).toBe(false);
    expect(await processesIn(workdir)).toEqual([]);
  }, 90_000);

  it('stops the server and everything it started when interrupted with SIGINT once the server is up', async () => {
    const run = runDemo(workdir);
    await waitFor(() => /model-server is up \(pid \d+\)/.test(run.output()), 60_000);
    const pid = serverPid(run.output());
    expect(isAlive(pid)).toBe(true);

    run.child.kill('SIGINT');
    const { code } = await run.exited;
    expect(code).toBe(130);
    expect(run.output()).toContain('SIGINT: stopping model-server');
    await waitFor(() => !isAlive(pid), 5_000);
    expect(await processesIn(workdir)).toEqual([]);
  }, 90_000);

  it('leaves no process behind when interrupted with SIGINT while the server is starting', async () => {
    const run = runDemo(workdir);
    await waitFor(() => run.output().includes('$ model-server --start'), 60_000);
    // Long enough for the background server and its worker to exist, too short for the model to load.
    await new Promise((r) => setTimeout(r, 400));
    run.child.kill('SIGINT');
    const { code } = await run.exited;
    expect(code).toBe(130);
    expect(await processesIn(workdir)).toEqual([]);
  }, 90_000);

  it('refuses a port that is taken, with one clear line, before archiving anything', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer();
    // The demo takes N, N+1 and N+2; a port the system hands out may be too close to 65535 for that.
    let port = 65_535;
    while (port > 65_533) {
      port = await new Promise<number>((resolve) =>
        blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port)),
      );
      if (port > 65_533) await new Promise((r) => blocker.close(r));
    }
    try {
      const child = spawn(process.execPath, [DEMO, '--port', String(port), '--workdir', workdir, '--weights', MOBILENET], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      child.stdout.on('data', (d) => (text += d));
      child.stderr.on('data', (d) => (text += d));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(code).toBe(1);
      expect(text).toContain(`port ${port} on 127.0.0.1 is already in use`);
      expect(text).not.toContain('$ model-archiver');
    } finally {
      blocker.close();
    }
  }, 30_000);
});
