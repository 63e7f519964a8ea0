import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { ServerConfigInvalid } from '../../src/errors.js';
import { generateKeys, isLoopbackHost, keysMatch, tokenAuthHook, tokenAuthRequired, writeKeyFile } from '../../src/auth/index.js';

describe('token keys', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nodeserve-auth-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('generates distinct keys of at least 128 random bits', () => {
    const a = generateKeys();
    const b = generateKeys();
    expect(new Set([a.inference, a.management, b.inference, b.management]).size).toBe(4);
    expect(Buffer.from(a.inference, 'base64url').length).toBeGreaterThanOrEqual(16);
  });

  it('matches only the exact key', () => {
    expect(keysMatch('abc', 'abc')).toBe(true);
    expect(keysMatch('abd', 'abc')).toBe(false);
    expect(keysMatch('ab', 'abc')).toBe(false);
    expect(keysMatch('', 'abc')).toBe(false);
  });

  it('writes the key file readable by its owner only, even over a world-readable file', async () => {
    const path = join(dir, 'key_file.json');
    await writeFile(path, 'old', { mode: 0o644 });
    const keys = generateKeys();
    await writeKeyFile(path, keys);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(keys);
  });
});

describe('token authorization policy', () => {
  it('recognises loopback hosts', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1', 'example.com']) expect(isLoopbackHost(h)).toBe(false);
  });

  it('is off on loopback unless enabled, on for any exposed address unless explicitly disabled', () => {
    expect(tokenAuthRequired({ hosts: ['127.0.0.1', '::1'] })).toBe(false);
    expect(tokenAuthRequired({ hosts: ['127.0.0.1'], enable_token_authorization: true })).toBe(true);
    expect(tokenAuthRequired({ hosts: ['127.0.0.1', '0.0.0.0'] })).toBe(true);
    expect(tokenAuthRequired({ hosts: ['0.0.0.0'], disable_token_authorization: true })).toBe(false);
    expect(() => tokenAuthRequired({ hosts: ['0.0.0.0'], enable_token_authorization: false })).toThrow(ServerConfigInvalid);
    expect(() => tokenAuthRequired({ hosts: ['127.0.0.1'], enable_token_authorization: true, disable_token_authorization: true })).toThrow(
      ServerConfigInvalid,
    );
  });
});

describe('tokenAuthHook', () => {
  let app: FastifyInstance;
  let base: string;
  const key = generateKeys().inference;

  beforeAll(async () => {
    app = Fastify();
    app.addHook('onRequest', tokenAuthHook({ key, publicPaths: new Set(['/ping']), kserveErrors: true }));
    app.get('/ping', async () => ({ status: 'Healthy' }));
    app.get('/models', async () => ({ models: [] }));
    app.get('/v2/models/m', async () => ({ name: 'm' }));
    app.get('/v1/models/m', async () => ({ name: 'm', ready: true }));
    app.get('/v1x', async () => ({}));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  });
  afterAll(() => app.close());

  it('answers 401 without the key, with a wrong key and with another scheme', async () => {
    for (const authorization of [undefined, `Bearer ${key}x`, `Basic ${key}`, 'Bearer']) {
      const res = await fetch(`${base}/models`, { headers: authorization === undefined ? {} : { authorization } });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(await res.json()).toMatchObject({ code: 401, type: 'Unauthorized' });
    }
  });

  it('answers KServe v1 and v2 paths in KServe’s error form, and only those', async () => {
    for (const path of ['/v2/models/m', '/v1/models/m']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status).toBe(401);
      expect(Object.keys((await res.json()) as object)).toEqual(['error']);
    }
    expect(await (await fetch(`${base}/v1x`)).json()).toMatchObject({ code: 401, type: 'Unauthorized' });
  });

  it('lets the right key and public paths through', async () => {
    expect((await fetch(`${base}/models`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
    expect((await fetch(`${base}/ping?x=1`)).status).toBe(200);
  });
});
