import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildClassifierArchive, startModelServer, type ModelServer } from '../../../../test/support/model-server.js';
import { buildZip } from '../../../archiver/test/helpers/zip-builder.js';

/** Registering from a URL: only URLs matching `allowed_urls`, served here by the test's own server on 127.0.0.1. */
describe('registering from allowed URLs', () => {
  let server: ModelServer;
  let files: Server;
  let origin: string;
  const requested: string[] = [];
  let scratch: string;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'nodeserve-dl-'));
    const archive = await readFile(join(scratch, await buildClassifierArchive(scratch, { name: 'remote', version: '3.0' })));
    const slip = buildZip([{ name: '../outside.txt', data: Buffer.from('no') }]);
    files = createServer((req, res) => {
      requested.push(req.url ?? '');
      if (req.url === '/archives/remote.mar') res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(archive);
      else if (req.url === '/archives/slip.mar') res.writeHead(200).end(slip);
      else if (req.url === '/archives/moved.mar') res.writeHead(302, { location: '/elsewhere/remote.mar' }).end();
      else if (req.url === '/elsewhere/remote.mar') res.writeHead(200).end(archive);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
    server = await startModelServer({
      config: { enable_model_api: true, allowed_urls: `${origin.replace(/\./g, '\\.')}/archives/[a-z]+\\.mar` },
    });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await new Promise((resolve) => files?.close(resolve));
    await rm(scratch, { recursive: true, force: true });
  });

  const register = (url: string) => fetch(`${server.management}/models?url=${encodeURIComponent(url)}&initial_workers=0`, { method: 'POST' });

  it('downloads a matching URL into the model store and registers it', async () => {
    const res = await register(`${origin}/archives/remote.mar`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'Model "remote" Version: 3.0 registered with 0 initial workers' });
    expect(await readdir(server.store)).toContain('remote.mar');
    const [described] = (await (await fetch(`${server.management}/models/remote`)).json()) as Array<{ modelUrl: string; modelVersion: string }>;
    expect(described).toMatchObject({ modelUrl: 'remote.mar', modelVersion: '3.0' });
  });

  it('refuses URLs that do not match allowed_urls without fetching them', async () => {
    const before = requested.length;
    for (const url of [`${origin}/elsewhere/remote.mar`, `${origin}/archives/remote.mar?x=1`, 'http://127.0.0.1:9/x.mar']) {
      const res = await register(url);
      expect(res.status).toBe(403);
      expect(((await res.json()) as { message: string }).message).toMatch(/does not match any pattern in allowed_urls/);
    }
    expect(requested.length).toBe(before);
  });

  it('does not follow a redirect out of the allowed URLs', async () => {
    const res = await register(`${origin}/archives/moved.mar`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { type: string }).type).toBe('DownloadFailed');
    expect(requested).not.toContain('/elsewhere/remote.mar');
  });

  it('refuses an unsafe downloaded archive and keeps nothing of it', async () => {
    const res = await register(`${origin}/archives/slip.mar`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/unsafe entry path/);
    const inStore = await readdir(server.store);
    expect(inStore).not.toContain('slip.mar');
    expect(await readdir(join(server.store, '.download'))).toEqual([]);
    expect(await readdir(server.dir)).not.toContain('outside.txt');
  });

  it('refuses to overwrite an archive already in the store', async () => {
    const res = await register(`${origin}/archives/remote.mar`);
    expect(res.status).toBe(409);
  });
});
