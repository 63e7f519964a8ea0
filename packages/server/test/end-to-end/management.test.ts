import { execFile } from 'node:child_process';
import { readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inspectArchive } from '@nodeserve/archiver';
import { buildClassifierArchive, classes, KITTEN, metricValue, startModelServer, type ModelServer } from '../../../../test/support/model-server.js';
import { buildZip } from '../../../archiver/test/helpers/zip-builder.js';
import { contenders } from '../../../../test/support/imagenet-reference.js';

const run = promisify(execFile);

interface Described {
  modelVersion: string;
  isDefault: boolean;
  minWorkers: number;
  workers: Array<{ status: string; pid: number | null }>;
  jobQueueStatus: { pendingRequests: number };
}

/** The management API end to end, against a real `model-server` with `enable_model_api=true`. */
describe('management API', () => {
  let server: ModelServer;
  let image: Buffer;
  let outsideBefore: string[];
  const evilName = `evil-${process.pid}.txt`;

  const manage = (path: string, method = 'GET') => fetch(`${server.management}${path}`, { method });
  const describeModel = async (path: string) => (await (await manage(path)).json()) as Described[];
  const predict = (path = 'mobilenet') => fetch(`${server.inference}/predictions/${path}`, { method: 'POST', body: image, headers: { 'content-type': 'image/jpeg' } });

  beforeAll(async () => {
    image = await readFile(KITTEN);
    server = await startModelServer({
      config: { enable_model_api: true },
      prepare: async (store) => {
        const v1 = await buildClassifierArchive(store, { version: '1.0' });
        await buildClassifierArchive(store, { version: '2.0' });
        const { manifest } = await inspectArchive(join(store, v1));
        await writeFile(
          join(store, 'zipslip.mar'),
          buildZip([
            { name: 'MAR-INF/MANIFEST.json', data: Buffer.from(JSON.stringify(manifest)) },
            { name: `../../${evilName}`, data: Buffer.from('written outside the store') },
            { name: `/tmp/${evilName}`, data: Buffer.from('written at an absolute path') },
          ]),
        );
        await symlink('/etc/passwd', join(store, 'passwd.mar'));
      },
    });
    outsideBefore = await readdir(server.dir);
  }, 120_000);
  afterAll(() => server?.stop());

  it('registers an archive from the model store, synchronously, with live workers', async () => {
    const res = await manage('/models?url=mobilenet-1.0.mar&initial_workers=1&synchronous=true', 'POST');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'Model "mobilenet" Version: 1.0 registered with 1 initial workers' });
    const [described] = await describeModel('/models/mobilenet');
    expect(described).toMatchObject({ modelVersion: '1.0', isDefault: true, minWorkers: 1 });
    expect(described?.workers).toEqual([expect.objectContaining({ status: 'READY', pid: expect.any(Number) })]);
    expect(contenders('kitten.jpg')).toContain(classes(await (await predict()).json())[0]);
  });

  it('refuses a duplicate name and version with 409', async () => {
    const res = await manage('/models?url=mobilenet-1.0.mar', 'POST');
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ type: 'ModelConflict' });
  });

  it.each([
    ['../../etc/passwd', 403, /must not contain "\.\."/],
    ['/etc/passwd', 403, /absolute path/],
    ['http://127.0.0.1:9/x.mar', 403, /allowed_urls is empty/],
    ['file:///etc/passwd', 403, /scheme/],
    ['passwd.mar', 403, /outside the model store/],
    ['missing.mar', 404, /not found/],
    ['zipslip.mar', 400, /unsafe entry path/],
  ])('refuses url=%s with %i naming the reason', async (url, status, reason) => {
    const res = await manage(`/models?url=${encodeURIComponent(url)}&model_name=intruder`, 'POST');
    expect(res.status).toBe(status);
    expect(((await res.json()) as { message: string }).message).toMatch(reason);
  });

  it('wrote nothing outside the model store while refusing', async () => {
    for (const path of [join(server.dir, evilName), join(server.store, '..', '..', evilName), `/tmp/${evilName}`]) {
      await expect(stat(path)).rejects.toThrow();
    }
    expect((await readdir(server.dir)).sort()).toEqual(outsideBefore.sort());
    const list = (await (await manage('/models')).json()) as { models: Array<{ modelName: string }> };
    expect(list.models.map((m) => m.modelName)).toEqual(['mobilenet']);
  });

  it('scales up and down under load without failing a request', async () => {
    const body = join(server.dir, 'kitten.jpg');
    await writeFile(body, image);
    const load = run('ab', ['-q', '-n', '150', '-c', '4', '-p', body, '-T', 'image/jpeg', `${server.inference}/predictions/mobilenet`], { timeout: 120_000 });
    const up = await manage('/models/mobilenet?min_worker=3&max_worker=3&synchronous=true', 'PUT');
    expect(up.status).toBe(200);
    expect((await describeModel('/models/mobilenet'))[0]?.workers.filter((w) => w.status === 'READY' || w.status === 'BUSY')).toHaveLength(3);
    const down = await manage('/models/mobilenet?min_worker=1&synchronous=true', 'PUT');
    expect(down.status).toBe(200);
    const { stdout } = await load;
    expect(stdout).toMatch(/Complete requests:\s+150/);
    expect(stdout).toMatch(/Failed requests:\s+0/);
    expect(stdout).not.toMatch(/Non-2xx responses/);
    const workers = (await describeModel('/models/mobilenet'))[0]?.workers ?? [];
    expect(workers.filter((w) => w.status !== 'STOPPING' && w.status !== 'DEAD')).toHaveLength(1);
  }, 120_000);

  it('serves two versions at once and routes /predictions/{name} to the default one', async () => {
    const res = await manage('/models?url=mobilenet-2.0.mar&initial_workers=1&synchronous=true', 'POST');
    expect(res.status).toBe(200);
    const count = async (version: string) =>
      metricValue(await (await fetch(`${server.metrics}/metrics`)).text(), 'ts_inference_requests_total', { model_name: 'mobilenet', model_version: version, status: '200' }) ?? 0;
    const v1Before = await count('1.0');
    expect((await predict()).status).toBe(200);
    expect(await count('1.0')).toBe(v1Before + 1);

    const setDefault = await manage('/models/mobilenet/2.0/set-default', 'PUT');
    expect(setDefault.status).toBe(200);
    const v2Before = await count('2.0');
    expect((await predict()).status).toBe(200);
    expect((await predict('mobilenet/1.0')).status).toBe(200);
    expect(await count('2.0')).toBe(v2Before + 1);
    expect(await count('1.0')).toBe(v1Before + 2);
    const all = await describeModel('/models/mobilenet/all');
    expect(all.map((d) => [d.modelVersion, d.isDefault]).sort()).toEqual([['1.0', false], ['2.0', true]]);
  }, 60_000);

  it('unregisters a version while its requests run: accepted requests are answered, later ones get 404', async () => {
    let answered = 0;
    const inflight = Array.from({ length: 10 }, () => predict('mobilenet/1.0').then((r) => ((answered += 1), r)));
    const deadline = Date.now() + 10_000;
    // Wait until the server holds every request (queued, running or answered) and some are still queued,
    // so the unregister has accepted work to finish. `answered` is read before the snapshot, so nothing counts twice.
    while (Date.now() < deadline) {
      const done = answered;
      const [d] = await describeModel('/models/mobilenet/1.0');
      const pending = d?.jobQueueStatus.pendingRequests ?? 0;
      const running = d?.workers.filter((w) => w.status === 'BUSY').length ?? 0;
      if (pending > 0 && pending + running + done >= 10) break;
    }
    const res = await manage('/models/mobilenet/1.0', 'DELETE');
    expect(res.status).toBe(200);
    const statuses = await Promise.all(inflight.map(async (p) => (await p).status));
    expect(statuses).toEqual(Array(10).fill(200));
    expect((await predict('mobilenet/1.0')).status).toBe(404);
    expect((await manage('/models/mobilenet/1.0')).status).toBe(404);
    expect((await predict()).status).toBe(200);
  }, 60_000);

  it('pages through the model list with an opaque token', async () => {
    for (const name of ['alpha', 'zeta']) {
      expect((await manage(`/models?url=mobilenet-2.0.mar&model_name=${name}&initial_workers=0`, 'POST')).status).toBe(200);
    }
    const names: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < 5; page++) {
      const res = (await (await manage(`/models?limit=2${token === undefined ? '' : `&next_page_token=${token}`}`)).json()) as {
        models: Array<{ modelName: string }>;
        nextPageToken?: string;
      };
      names.push(...res.models.map((m) => m.modelName));
      token = res.nextPageToken;
      if (token === undefined) break;
    }
    expect(names).toEqual(['alpha', 'mobilenet', 'zeta']);
    expect((await manage('/models?limit=0')).status).toBe(400);
    expect((await manage('/models?limit=1001')).status).toBe(400);
    expect((await manage('/models?next_page_token=%25%25')).status).toBe(400);
    expect((await manage('/models/zeta', 'DELETE')).status).toBe(200);
  });

  it('answers 400 naming the parameter for a bad value', async () => {
    const res = await manage('/models/mobilenet?min_worker=lots', 'PUT');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/min_worker/);
    const missing = await manage('/models', 'POST');
    expect(((await missing.json()) as { message: string }).message).toBe('Parameter url is required');
  });
});
