import { renameSync } from 'node:fs';
import path from 'node:path';
import { FIXTURES, archive, modelServer, runState, serverDir, stopAndClean } from '../../../../test/support/model-server.js';

interface ModelList { models: Array<{ modelName: string; defaultVersion: string }> }
interface Described { modelVersion: string; isDefault: boolean; minWorkers: number; maxWorkers: number; workers: unknown[] }

async function json<T>(url: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as T };
}

/**
 * TorchServe users restart servers with several versions of one model, and scale models to zero
 * under load: the default must not change from start to start, and scaling down must answer what
 * was already accepted.
 */
describe('the default version of a model loaded in several versions at start-up', () => {
  const cwd = serverDir('default_workers_per_model=1\n');
  const versions = ['1.0', '2.0', '9.1', '10.0'];

  beforeAll(() => {
    for (const version of versions) {
      archive(cwd, ['--model-name', 'mv', '--version', version, '--handler', path.join(FIXTURES, 'version.mjs')]);
      // model-archiver names the file after the model; keep each version's archive.
      const store = path.join(cwd, 'model_store');
      renameSync(path.join(store, 'mv.mar'), path.join(store, `mv-${version}.mar`));
    }
  });
  afterEach(() => stopAndClean(cwd));

  // Listed in three orders, and as `all` (the store's directory order): the highest version every time.
  it.each([
    ['in order', ['mv-1.0.mar', 'mv-2.0.mar', 'mv-9.1.mar', 'mv-10.0.mar']],
    ['in reverse', ['mv-10.0.mar', 'mv-9.1.mar', 'mv-2.0.mar', 'mv-1.0.mar']],
    ['shuffled', ['mv-9.1.mar', 'mv-1.0.mar', 'mv-10.0.mar', 'mv-2.0.mar']],
    ['as all', ['all']],
  ])('is the highest version, 10.0, when listed %s, and /predictions/mv goes there', async (_how, models) => {
    const started = await modelServer(cwd, ['--start', '--model-store', 'model_store', '--models', ...models]);
    expect(started).toMatchObject({ code: 0 });
    const { addresses } = runState(cwd);
    const list = await json<ModelList>(`${addresses.management}/models`);
    expect(list.body.models).toEqual([expect.objectContaining({ modelName: 'mv', defaultVersion: '10.0' })]);
    const described = await json<Described[]>(`${addresses.management}/models/mv/all`);
    expect(described.body.filter((v) => v.isDefault).map((v) => v.modelVersion)).toEqual(['10.0']);
    const served = await json<{ version: string }>(`${addresses.inference}/predictions/mv`, { method: 'POST', body: 'x' });
    expect(served.body).toEqual({ version: '10.0' });
  }, 60_000);
});

describe('scaling a model to zero workers under load', () => {
  const cwd = serverDir('enable_model_api=true\ndefault_workers_per_model=1\nbatch_size=1\n');
  let inference: string;
  let management: string;

  beforeAll(async () => {
    archive(cwd, ['--model-name', 'slow', '--handler', path.join(FIXTURES, 'misbehaving.mjs')]);
    expect(await modelServer(cwd, ['--start', '--model-store', 'model_store', '--models', 'slow.mar'])).toMatchObject({ code: 0 });
    ({ inference, management } = runState(cwd).addresses);
  }, 60_000);
  afterAll(() => stopAndClean(cwd));

  const slowRequest = () => fetch(`${inference}/predictions/slow?ms=1500`, { method: 'POST', body: 'slow' });

  it('answers all four requests it had accepted with 200, then retires the worker; min_worker=0 leaves maxWorkers 0', async () => {
    const inFlight = [slowRequest(), slowRequest(), slowRequest(), slowRequest()];
    // Let all four reach the server: one running, three queued behind it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const scaled = await fetch(`${management}/models/slow?min_worker=0&synchronous=true`, { method: 'PUT' });
    const answers = await Promise.all(inFlight);
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(scaled.status).toBe(200);

    const [described] = (await json<Described[]>(`${management}/models/slow`)).body;
    expect(described).toMatchObject({ minWorkers: 0, maxWorkers: 0, workers: [] });
    const after = await fetch(`${inference}/predictions/slow`, { method: 'POST', body: 'x' });
    expect(after.status).toBe(503);
    expect(await after.json()).toMatchObject({ type: 'ModelNotReady' });
  }, 60_000);

  it('takes TorchServe\'s own min_worker=0&max_worker=0, and serves again once scaled up', async () => {
    expect((await fetch(`${management}/models/slow?min_worker=0&max_worker=0&synchronous=true`, { method: 'PUT' })).status).toBe(200);
    expect((await fetch(`${management}/models/slow?min_worker=1&synchronous=true`, { method: 'PUT' })).status).toBe(200);
    const [described] = (await json<Described[]>(`${management}/models/slow`)).body;
    expect(described).toMatchObject({ minWorkers: 1, maxWorkers: 1 });
    expect(described!.workers).toHaveLength(1);
    const served = await fetch(`${inference}/predictions/slow`, { method: 'POST', body: 'hello' });
    expect([served.status, await served.json()]).toEqual([200, expect.objectContaining({ echo: 'hello' })]);
  }, 60_000);

  it('refuses max_worker below min_worker, naming it', async () => {
    const res = await fetch(`${management}/models/slow?min_worker=2&max_worker=1`, { method: 'PUT' });
    expect([res.status, ((await res.json()) as { message: string }).message]).toEqual([400, expect.stringMatching(/max_worker must be at least min_worker \(2\)/)]);
  });
});
