import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { buildClassifierArchive, KITTEN, startModelServer, type ModelServer } from '../../../../test/support/model-server.js';
import { contenders } from '../../../../test/support/imagenet-reference.js';

/** End to end against real `model-server` processes on 127.0.0.1: the secure defaults. */

describe('with the default config', () => {
  let server: ModelServer;
  let archive = '';

  beforeAll(async () => {
    server = await startModelServer({
      prepare: async (store) => {
        archive = await buildClassifierArchive(store);
      },
      models: ['mobilenet=mobilenet-1.0.mar'],
    });
  }, 120_000);
  afterAll(() => server?.stop());

  it('answers 405 to register and unregister, and registers nothing', async () => {
    const register = await fetch(`${server.management}/models?url=${archive}&model_name=other`, { method: 'POST' });
    expect(register.status).toBe(405);
    expect(await register.json()).toMatchObject({ code: 405, type: 'ModelApiDisabled' });
    const unregister = await fetch(`${server.management}/models/mobilenet`, { method: 'DELETE' });
    expect(unregister.status).toBe(405);
    const list = (await (await fetch(`${server.management}/models`)).json()) as { models: Array<{ modelName: string }> };
    expect(list.models.map((m) => m.modelName)).toEqual(['mobilenet']);
    expect((await fetch(`${server.inference}/predictions/mobilenet`, { method: 'POST', body: await readFile(KITTEN) })).status).toBe(200);
  });

  it('needs no key on loopback and writes no key file', async () => {
    expect((await fetch(`${server.management}/models`)).status).toBe(200);
    await expect(stat(join(server.dir, 'key_file.json'))).rejects.toThrow();
  });

  it('describes both APIs with OpenAPI on OPTIONS /', async () => {
    for (const base of [server.inference, server.management]) {
      const res = await fetch(`${base}/`, { method: 'OPTIONS' });
      expect(res.status).toBe(200);
      const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
      expect(doc.openapi).toMatch(/^3\./);
      expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/models', '/v2/models/{model_name}/infer', '/predictions/{model_name}']));
    }
  });
});

describe('with token authorization on', () => {
  let server: ModelServer;
  let keys: { inference: string; management: string };
  let keyFile: string;
  let image: Buffer;

  beforeAll(async () => {
    image = await readFile(KITTEN);
    server = await startModelServer({
      config: { enable_token_authorization: true },
      prepare: async (store) => {
        await buildClassifierArchive(store);
      },
      models: ['mobilenet=mobilenet-1.0.mar'],
    });
    keyFile = join(server.dir, 'key_file.json');
    keys = JSON.parse(await readFile(keyFile, 'utf8')) as typeof keys;
  }, 120_000);
  afterAll(() => server?.stop());

  it('keeps the keys in a file only its owner can read, one key per API of at least 128 bits', async () => {
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    expect(keys.inference).not.toBe(keys.management);
    for (const key of [keys.inference, keys.management]) expect(Buffer.from(key, 'base64url').length).toBeGreaterThanOrEqual(16);
  });

  it('answers 401 without the right key on every inference and management route', async () => {
    const v2Body = JSON.stringify({ inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', parameters: { content_type: 'base64' }, data: [image.toString('base64')] }] });
    const attempts: Array<[string, RequestInit]> = [
      [`${server.inference}/predictions/mobilenet`, { method: 'POST', body: image }],
      [`${server.inference}/v2/models/mobilenet/infer`, { method: 'POST', body: v2Body, headers: { 'content-type': 'application/json' } }],
      [`${server.inference}/v2/models/mobilenet`, {}],
      [`${server.management}/models`, {}],
      [`${server.management}/models/mobilenet?min_worker=2`, { method: 'PUT' }],
    ];
    for (const [url, init] of attempts) {
      for (const authorization of [undefined, 'Bearer wrong', `Bearer ${url.startsWith(server.management) ? keys.inference : keys.management}`]) {
        const res = await fetch(url, { ...init, headers: { ...(init.headers as Record<string, string>), ...(authorization ? { authorization } : {}) } });
        expect([url, res.status]).toEqual([url, 401]);
        const body = (await res.json()) as Record<string, unknown>;
        if (url.includes('/v2/')) expect(typeof body['error']).toBe('string');
        else expect(body).toMatchObject({ code: 401, type: 'Unauthorized' });
      }
    }
    const described = (await (await fetch(`${server.management}/models/mobilenet`, { headers: { authorization: `Bearer ${keys.management}` } })).json()) as Array<{ minWorkers: number }>;
    expect(described[0]?.minWorkers).toBe(1);
  });

  it('serves requests that carry the right key', async () => {
    const predict = await fetch(`${server.inference}/predictions/mobilenet`, { method: 'POST', body: image, headers: { authorization: `Bearer ${keys.inference}` } });
    expect(predict.status).toBe(200);
    const top = (await predict.json()) as Array<Record<string, number>>;
    expect(contenders('kitten.jpg')).toContain(Object.keys(top[0]!)[0]);
    const list = await fetch(`${server.management}/models`, { headers: { authorization: `Bearer ${keys.management}` } });
    expect(list.status).toBe(200);
    const v2 = await fetch(`${server.inference}/v2/models/mobilenet/ready`, { headers: { authorization: `Bearer ${keys.inference}` } });
    expect(await v2.json()).toEqual({ name: 'mobilenet', ready: true });
  });

  it('leaves health probes open', async () => {
    expect((await fetch(`${server.inference}/ping`)).status).toBe(200);
    expect((await fetch(`${server.inference}/v2/health/live`)).status).toBe(200);
    expect((await fetch(`${server.inference}/v2/health/ready`)).status).toBe(200);
  });
});

describe('on an address beyond loopback', () => {
  it('refuses to start when token authorization is turned off without disable_token_authorization', async () => {
    await expect(
      startModelServer({ config: { inference_address: 'http://0.0.0.0:0', enable_token_authorization: false } }),
    ).rejects.toThrow(/Refusing to start without token authorization/);
  }, 60_000);
});
