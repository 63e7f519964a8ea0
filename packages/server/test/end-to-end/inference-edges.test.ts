import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createArchive } from '@nodeserve/archiver';
import { type ModelServer, ROOT, startModelServer } from '../../../../test/support/model-server.js';

const run = promisify(execFile);
const MAX_REQUEST_SIZE = 4096;

async function archiveHandler(store: string, name: string, handler: string): Promise<void> {
  const out = await mkdtemp(join(tmpdir(), 'nodeserve-mar-'));
  try {
    const { path } = await createArchive({ modelName: name, version: '1.0', handler, exportPath: out, cwd: ROOT });
    await writeFile(join(store, `${name}.mar`), await readFile(path));
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

function counter(text: string, model: string, status: number): number {
  const line = text.split('\n').find((l) => l.startsWith('ts_inference_requests_total{') && l.includes(`model_name="${model}"`) && l.includes(`status="${status}"`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

/** Requests refused while their body is read, 100-continue, management query errors, and tensors in and out of a handler. */
describe('inference edges against a real server', () => {
  let server: ModelServer;
  const scrape = async () => (await fetch(`${server.metrics}/metrics`)).text();
  const v2 = (path: string, init?: RequestInit) => fetch(`${server.inference}/v2${path}`, init);

  beforeAll(async () => {
    server = await startModelServer({
      config: { max_request_size: MAX_REQUEST_SIZE, enable_model_api: true },
      prepare: async (store) => {
        await archiveHandler(store, 'echo', join(ROOT, 'packages/server/test/engine/fixtures/echo.mjs'));
        await archiveHandler(store, 'tensors', join(ROOT, 'test/fixtures/server/tensors.mjs'));
      },
      models: ['echo.mar', 'tensors.mar'],
    });
  }, 120_000);
  afterAll(() => server?.stop());

  it('counts requests to a known model refused for bad JSON or an oversized body', async () => {
    const before = await scrape();
    const bad = await fetch(`${server.inference}/predictions/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 400, message: expect.stringContaining('not valid JSON') });
    const big = await fetch(`${server.inference}/predictions/echo`, { method: 'POST', body: Buffer.alloc(MAX_REQUEST_SIZE + 1) });
    expect(big.status).toBe(413);
    const bigV2 = await v2('/models/tensors/infer', { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.alloc(MAX_REQUEST_SIZE + 1, 32) });
    expect(bigV2.status).toBe(413);
    const after = await scrape();
    expect(counter(after, 'echo', 400) - counter(before, 'echo', 400)).toBe(1);
    expect(counter(after, 'echo', 413) - counter(before, 'echo', 413)).toBe(1);
    expect(counter(after, 'tensors', 413) - counter(before, 'tensors', 413)).toBe(1);
  });

  it('answers 413 without 100 Continue when the declared length is too big, and continues otherwise', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nodeserve-continue-'));
    try {
      await writeFile(join(dir, 'big.bin'), Buffer.alloc(MAX_REQUEST_SIZE * 4));
      await writeFile(join(dir, 'small.bin'), 'hello');
      const curl = (file: string) =>
        run('curl', ['-sS', '-v', '-H', 'Expect: 100-continue', '-T', join(dir, file), `${server.inference}/predictions/echo`], { encoding: 'utf8' });
      const big = await curl('big.bin');
      expect(big.stderr).not.toMatch(/< HTTP\/1\.1 100/);
      expect(big.stderr).toMatch(/< HTTP\/1\.1 413/);
      expect(JSON.parse(big.stdout)).toMatchObject({ code: 413, type: 'PayloadTooLarge' });
      const small = await curl('small.bin');
      expect(small.stderr).toMatch(/< HTTP\/1\.1 100/);
      expect(JSON.parse(small.stdout)).toMatchObject({ body: 'hello' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['/models/echo?min_worker=abc', 'PUT', 'Parameter min_worker must be an integer, got "abc"'],
    ['/models/echo?min_worker=3&max_worker=2', 'PUT', 'Parameter max_worker must be at least min_worker (3), got "2"'],
    ['/models?model_name=x', 'POST', 'Parameter url is required'],
    ['/models?next_page_token=zzz', 'GET', 'Parameter next_page_token is not a token this server returned, got "zzz"'],
  ])('explains a bad management query: %s', async (path, method, message) => {
    const res = await fetch(`${server.management}${path}`, { method });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toBe(message);
  });

  it('logs a request the handler refused (4xx) once, on one line, without a stack', async () => {
    const res = await fetch(`${server.inference}/predictions/echo?fail=1`, { method: 'POST', headers: { 'x-request-id': 'refused-once' }, body: 'x' });
    expect(res.status).toBe(400);
    // The log is written asynchronously, after the answer: wait for the line, then for any second one.
    const linesNow = async () =>
      (await readFile(join(server.dir, 'logs/model-server.log'), 'utf8')).split('\n').filter((l) => l.includes('refused-once'));
    let lines = await linesNow();
    for (let waited = 0; lines.length === 0 && waited < 5_000; waited += 50) {
      await new Promise((r) => setTimeout(r, 50));
      lines = await linesNow();
    }
    await new Promise((r) => setTimeout(r, 200));
    lines = await linesNow();
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ level: 'warn' });
    expect(lines[0]).not.toContain('stack');
  });

  it('explains an INT64 beyond JSON’s exact integers', async () => {
    const res = await v2('/models/tensors/infer', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"inputs":[{"name":"n","shape":[1],"datatype":"INT64","data":[9007199254740993]}]}`,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/beyond JSON's exact-integer range.*binary data extension/);
  });

  it('takes FP32 and INT64 tensors in JSON and returns tensors computed from them', async () => {
    const res = await v2('/models/tensors/infer', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        inputs: [
          { name: 'x', shape: [2, 2], datatype: 'FP32', data: [1.5, -2, 0.25, 8] },
          { name: 'n', shape: [3], datatype: 'INT64', data: [-1, 0, 9007199254740990] },
        ],
      }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { outputs: Array<{ name: string; datatype: string; shape: number[]; data: number[] }> };
    expect(body.outputs).toEqual([
      { name: 'y', datatype: 'FP32', shape: [2, 2], data: [3, -4, 0.5, 16] },
      { name: 'm', datatype: 'INT64', shape: [3], data: [0, 1, 9007199254740991] },
    ]);
  });

  it('takes FP32 and INT64 tensors in the binary data extension and returns them binary', async () => {
    const x = Buffer.from(new Float32Array([0.5, 3, -1]).buffer);
    const big = 2n ** 60n;
    const n = Buffer.from(new BigInt64Array([big, -5n]).buffer);
    const header = Buffer.from(
      JSON.stringify({
        inputs: [
          { name: 'x', shape: [3], datatype: 'FP32', parameters: { binary_data_size: x.length } },
          { name: 'n', shape: [2], datatype: 'INT64', parameters: { binary_data_size: n.length } },
        ],
        parameters: { binary_data_output: true },
      }),
    );
    const res = await v2('/models/tensors/infer', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
      body: Buffer.concat([header, x, n]),
    });
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    const headLength = Number(res.headers.get('inference-header-content-length'));
    const head = JSON.parse(body.subarray(0, headLength).toString()) as { outputs: Array<{ name: string; parameters: { binary_data_size: number } }> };
    expect(head.outputs.map((o) => o.name)).toEqual(['y', 'm']);
    const ySize = head.outputs[0]?.parameters.binary_data_size ?? 0;
    const yBytes = body.subarray(headLength, headLength + ySize);
    const mBytes = body.subarray(headLength + ySize);
    expect(Array.from(new Float32Array(yBytes.buffer.slice(yBytes.byteOffset, yBytes.byteOffset + yBytes.length)))).toEqual([1, 6, -2]);
    expect(Array.from(new BigInt64Array(mBytes.buffer.slice(mBytes.byteOffset, mBytes.byteOffset + mBytes.length)))).toEqual([big + 1n, -4n]);
  });

  it('describes a model whose handler has no describe() once a worker has loaded it', async () => {
    const res = await v2('/models/tensors');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ name: 'tensors', versions: ['1.0'], inputs: [], outputs: [] });
  });
});
