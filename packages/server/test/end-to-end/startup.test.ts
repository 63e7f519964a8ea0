import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { FIXTURES, archive, modelServer, serverDir, stopAndClean } from '../../../../test/support/model-server.js';

/** `--start` exits non-zero with one clear reason, and leaves nothing running, when it cannot serve. */
describe('model-server --start refuses to start, naming the reason', () => {
  const dirs: string[] = [];
  const dir = (extra = '') => {
    const cwd = serverDir(extra);
    dirs.push(cwd);
    return cwd;
  };
  afterAll(() => Promise.all(dirs.map((cwd) => stopAndClean(cwd))), 60_000);

  it('names an unknown config key and its file and line', async () => {
    const cwd = dir('number_of_netty_thread=32');
    const result = await modelServer(cwd, ['--start']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/config\.properties:5: unknown config key "number_of_netty_thread"; did you mean "number_of_netty_threads"\?/);
    expect(existsSync(path.join(cwd, 'logs/model-server.pid'))).toBe(false);
  });

  it('names a bad config value', async () => {
    const result = await modelServer(dir('job_queue_size=-5'), ['--start']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/job_queue_size: must be at least 1/);
  });

  it('names a bad archive', async () => {
    const cwd = dir();
    writeFileSync(path.join(cwd, 'broken.mar'), 'this is not a zip archive');
    const result = await modelServer(cwd, ['--start', '--models', 'broken=broken.mar']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/Cannot load model from \S*broken\.mar: /);
    expect(existsSync(path.join(cwd, 'logs/model-server.pid'))).toBe(false);
  });

  it('names every bad archive when several fail', async () => {
    const cwd = dir();
    writeFileSync(path.join(cwd, 'one.mar'), 'not a zip');
    writeFileSync(path.join(cwd, 'two.mar'), 'not a zip either');
    const result = await modelServer(cwd, ['--start', '--models', 'one=one.mar', 'two=two.mar']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/Cannot load model from \S*one\.mar: /);
    expect(result.stderr).toMatch(/Cannot load model from \S*two\.mar: /);
  });

  it('names a missing archive', async () => {
    const result = await modelServer(dir(), ['--start', '--models', 'missing.mar']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/Archive not found: missing\.mar/);
  });

  it("reports a handler's failing initialize", async () => {
    const cwd = dir();
    archive(cwd, ['--model-name', 'broken', '--handler', path.join(FIXTURES, 'init-fails.mjs')]);
    const result = await modelServer(cwd, ['--start', '--model-store', 'model_store', '--models', 'broken.mar']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/model weights\.onnx could not be loaded/);
    expect(existsSync(path.join(cwd, 'logs/model-server.pid'))).toBe(false);
  }, 60_000);

  it('reports a port in use', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const cwd = dir();
      writeFileSync(path.join(cwd, 'config.properties'), `inference_address=http://127.0.0.1:${port}\nmanagement_address=http://127.0.0.1:0\nmetrics_address=http://127.0.0.1:0\ngrpc_inference_address=127.0.0.1:0\n`);
      const busy = await modelServer(cwd, ['--start']);
      expect(busy.code).not.toBe(0);
      expect(busy.stderr).toMatch(new RegExp(`inference_address 127\\.0\\.0\\.1:${port}: the port is in use`));
    } finally {
      blocker.close();
    }
  }, 60_000);

  it('--stop says nothing runs, and clears a stale pid file', async () => {
    const cwd = dir();
    const none = await modelServer(cwd, ['--stop']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/not running/);
    mkdirSync(path.join(cwd, 'logs'), { recursive: true });
    writeFileSync(path.join(cwd, 'logs/model-server.pid'), '999999999\n');
    const stale = await modelServer(cwd, ['--stop']);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/stale pid file/);
    expect(existsSync(path.join(cwd, 'logs/model-server.pid'))).toBe(false);
  });
});
