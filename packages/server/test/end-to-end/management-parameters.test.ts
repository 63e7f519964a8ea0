import { join } from 'node:path';
import { archiveHandler, curl, FIXTURES, startModelServer, type ModelServer } from '../../../../test/support/model-server.js';

/**
 * Management parameters as TorchServe's clients send them: registration is synchronous unless asked
 * otherwise, an empty value counts as absent, and a parameter this server cannot honour is a 400
 * naming it, never dropped.
 */
describe('management API parameters, as TorchServe answers them', () => {
  let server: ModelServer;
  const mgmt = (method: string, path: string, ...args: string[]) => curl(['-X', method, `${server.management}${path}`, ...args]);
  const message = (body: string) => (JSON.parse(body) as { message?: string; status?: string }).message ?? (JSON.parse(body) as { status: string }).status;

  beforeAll(async () => {
    server = await startModelServer({
      config: { enable_model_api: true },
      prepare: async (store) => {
        for (const name of ['a', 'b', 'c', 'd', 'e']) await archiveHandler(store, join(FIXTURES, 'inspect.mjs'), { name });
      },
    });
  }, 120_000);
  afterAll(() => server?.stop());

  it('registers synchronously by default: 200 once the workers are up, and the model serves at once', async () => {
    const res = await mgmt('POST', '/models?url=a.mar&initial_workers=1');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ status: 'Model "a" Version: 1.0 registered with 1 initial workers' });
    expect((await curl([`${server.inference}/v2/models/a/ready`])).status).toBe(200);
    expect((await curl(['-X', 'POST', `${server.inference}/predictions/a`, '--data-binary', 'x'])).status).toBe(200);
  });

  it('treats empty values as absent', async () => {
    const res = await mgmt('GET', '/models?limit=&next_page_token=');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).models.map((m: { modelName: string }) => m.modelName)).toEqual(['a']);
  });

  it('answers url= (an empty url) with 404, as TorchServe does', async () => {
    const res = await mgmt('POST', '/models?url=&model_name=x');
    expect([res.status, message(res.body)]).toEqual([404, 'Model archive not found: the url parameter is empty']);
  });

  it.each([
    ['POST', '/models?url=b.mar&runtime=python4', 'Parameter runtime must be node: handlers run on Node.js here (archives record runtime "node"), got "python4"'],
    ['POST', '/models?url=b.mar&handler=invalidHandler', 'Parameter handler is not supported: the handler is compiled into the archive'],
    ['POST', '/models?url=b.mar&startup_timeout=10', 'Parameter startup_timeout is not supported: set startupTimeout in the archive'],
    ['POST', '/models?url=b.mar&colour=blue', 'Parameter colour is not supported by this endpoint'],
    ['PUT', '/models/a?min_worker=1&number_gpu=1', 'Parameter number_gpu is not supported: a model\'s GPUs come from number_of_gpu'],
    ['PUT', '/models/a?min_worker=1&timeout=0', 'Parameter timeout can only be -1 here: workers always finish the requests they hold before they stop, got "0"'],
    ['GET', '/models/a?customized=true', 'Parameter customized is not supported: customized metadata is not provided'],
    ['GET', '/models?limit=1&page=2', 'Parameter page is not supported by this endpoint'],
  ])('refuses %s %s with a 400 naming the parameter', async (method, path, text) => {
    const res = await mgmt(method, path);
    expect(res.status).toBe(400);
    expect(message(res.body)).toContain(text);
  });

  it('honours the parameters it can: runtime=node, model_version, timeout=-1, customized=false', async () => {
    expect((await mgmt('POST', '/models?url=b.mar&runtime=node&initial_workers=0')).status).toBe(200);
    const scaled = await mgmt('PUT', '/models/b?model_version=1.0&min_worker=1&synchronous=true&timeout=-1');
    expect([scaled.status, message(scaled.body)]).toEqual([200, 'Workers scaled to 1 for model: b, version: 1.0']);
    expect((await mgmt('GET', '/models/b?customized=false')).status).toBe(200);
  });

  it('takes the registration parameters from a JSON body too', async () => {
    const res = await mgmt('POST', '/models', '-H', 'Content-Type: application/json', '-d', JSON.stringify({ url: 'c.mar', model_name: 'from-json', initial_workers: 1, batch_size: 2 }));
    expect(res.status).toBe(200);
    const [described] = JSON.parse((await mgmt('GET', '/models/from-json')).body) as Array<{ batchSize: number; workers: unknown[] }>;
    expect([described!.batchSize, described!.workers]).toEqual([2, [expect.objectContaining({ status: expect.stringMatching(/READY|BUSY/) })]]);
  });

  it('answers asynchronous requests with 202: registering with synchronous=false, unregistering with synchronous=false', async () => {
    const registered = await mgmt('POST', '/models?url=d.mar&initial_workers=1&synchronous=false');
    expect([registered.status, message(registered.body)]).toEqual([202, expect.stringContaining('registered with 1 initial workers')]);
    const removed = await mgmt('DELETE', '/models/d?synchronous=false');
    expect(removed.status).toBe(202);
    for (let i = 0; i < 100 && (await mgmt('GET', '/models/d')).status !== 404; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await mgmt('GET', '/models/d')).status).toBe(404);
  });
});
