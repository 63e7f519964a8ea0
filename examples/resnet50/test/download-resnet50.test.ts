import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DownloadError, IMAGENET_SYNSET, RESNET50_V1_7, downloadVerified } from '../scripts/download/index.js';

const run = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TSX = join(REPO_ROOT, 'node_modules/.bin/tsx');
const CLI = fileURLToPath(new URL('../scripts/download-resnet50.ts', import.meta.url));
const SYNSET = join(REPO_ROOT, '../shared/models/synset.txt');

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const SMALL = Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => (i * 31) % 251));

function listen(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)),
  );
}

describe('download-resnet50', () => {
  let server: Server;
  let base: string;
  let dir: string;
  const requests: Record<string, number> = {};

  beforeAll(async () => {
    const synset = await readFile(SYNSET);
    server = createServer((req, res) => {
      const path = req.url ?? '';
      requests[path] = (requests[path] ?? 0) + 1;
      if (path === '/synset.txt') res.end(synset);
      else if (path === '/small.bin') res.end(SMALL);
      else if (path === '/endless') {
        // No Content-Length: the client learns the size only by counting.
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const timer = setInterval(() => res.write(SMALL), 5);
        res.on('close', () => clearInterval(timer));
      } else if (path === '/stall') res.writeHead(200).flushHeaders();
      else res.writeHead(404).end();
    });
    base = await listen(server);
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'download-resnet50-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('writes the file when size and sha256 match, then keeps it without another request', async () => {
    const dest = join(dir, 'small.bin');
    const spec = { url: `${base}/small.bin`, dest, sha256: sha256(SMALL), size: SMALL.length };
    await expect(downloadVerified(spec)).resolves.toMatchObject({ status: 'downloaded', bytes: SMALL.length, path: dest });
    expect(sha256(await readFile(dest))).toBe(spec.sha256);
    const before = requests['/small.bin'];
    await expect(downloadVerified(spec)).resolves.toMatchObject({ status: 'present' });
    expect(requests['/small.bin']).toBe(before);
    expect(await readdir(dir)).toEqual(['small.bin']);
  });

  it('fails on a wrong sha256 and leaves no file behind', async () => {
    const spec = { url: `${base}/small.bin`, dest: join(dir, 'small.bin'), sha256: '0'.repeat(64), size: SMALL.length };
    await expect(downloadVerified(spec)).rejects.toMatchObject({ code: 'CHECKSUM_MISMATCH' });
    expect(await readdir(dir)).toEqual([]);
  });

  it('replaces an invalid file already at the destination', async () => {
    const dest = join(dir, 'small.bin');
    await writeFile(dest, 'truncated');
    const spec = { url: `${base}/small.bin`, dest, sha256: sha256(SMALL), size: SMALL.length };
    await expect(downloadVerified(spec)).resolves.toMatchObject({ status: 'downloaded' });
    expect(sha256(await readFile(dest))).toBe(spec.sha256);
  });

  it('refuses a Content-Length other than the expected size before writing anything', async () => {
    const spec = { url: `${base}/small.bin`, dest: join(dir, 'm.onnx'), sha256: RESNET50_V1_7.sha256, size: RESNET50_V1_7.size };
    await expect(downloadVerified(spec)).rejects.toMatchObject({ code: 'SIZE_MISMATCH' });
    expect(await readdir(dir)).toEqual([]);
  });

  it('cuts a transfer that runs past the expected size', async () => {
    const spec = { url: `${base}/endless`, dest: join(dir, 'x.bin'), sha256: sha256(SMALL), size: 4 * SMALL.length };
    await expect(downloadVerified(spec)).rejects.toMatchObject({ code: 'SIZE_MISMATCH' });
    expect(await readdir(dir)).toEqual([]);
  });

  it('reports HTTP errors, stalled transfers and unreachable hosts with their own codes', async () => {
    const spec = { dest: join(dir, 'x.bin'), sha256: sha256(SMALL), size: SMALL.length };
    await expect(downloadVerified({ ...spec, url: `${base}/missing` })).rejects.toMatchObject({ code: 'HTTP_STATUS' });
    await expect(downloadVerified({ ...spec, url: `${base}/stall`, timeoutMs: 300 })).rejects.toMatchObject({ code: 'TIMEOUT' });

    const closed = createServer();
    const closedUrl = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));
    const offline = downloadVerified({ ...spec, url: `${closedUrl}/small.bin` });
    await expect(offline).rejects.toBeInstanceOf(DownloadError);
    await expect(offline).rejects.toMatchObject({ code: 'UNREACHABLE', message: expect.stringMatching(/needs internet access/) });
    expect(await readdir(dir)).toEqual([]);
  });

  it('CLI: fetches the ImageNet labels and accepts them against the pinned sha256', async () => {
    const { stdout } = await run(TSX, [CLI, '--only', 'labels', '--labels-url', `${base}/synset.txt`, '--dir', dir, '--json'], {
      cwd: REPO_ROOT,
    });
    expect(JSON.parse(stdout)).toMatchObject({ labels: { status: 'downloaded', bytes: IMAGENET_SYNSET.size } });
    expect(sha256(await readFile(join(dir, 'synset.txt')))).toBe(IMAGENET_SYNSET.sha256);
  });

  it('CLI: exits 1 with one line naming the failure when the model does not match, leaving no file', async () => {
    const env = { ...process.env, [RESNET50_V1_7.urlEnv]: `${base}/small.bin` };
    const failure = run(TSX, [CLI, '--only', 'model', '--dir', dir], { cwd: REPO_ROOT, env });
    await expect(failure).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/^download-resnet50: SIZE_MISMATCH: /m) });
    expect(await readdir(dir)).toEqual([]);
  });
});
