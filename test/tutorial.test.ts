import path from 'node:path';
import { readFileSync } from 'node:fs';
import { FIXTURES, SHARED, ab, archive, curl, modelServer, runState, serverDir, stopAndClean } from './support/model-server.js';
import { contenders } from './support/imagenet-reference.js';

const KITTEN = path.join(SHARED, 'images/kitten.jpg');

/** The MMS tutorial's flow, unchanged: archive, --start, curl -T kitten.jpg, ab -k, --stop. */
describe('model-server: the tutorial flow with a real ONNX model', () => {
  const cwd = serverDir();
  let inference: string;

  beforeAll(async () => {
    archive(cwd, [
      '--model-name', 'resnet50',
      '--serialized-file', '../shared/models/mobilenetv2-12-int8.onnx',
      '--extra-files', '../shared/models/index_to_name.json',
      '--handler', 'examples/resnet50/img_classifier_service.ts',
    ]);
    archive(cwd, ['--model-name', 'echo', '--handler', path.join(FIXTURES, 'misbehaving.mjs')]);
    const started = await modelServer(cwd, ['--start', '--model-store', 'model_store', '--models', 'resnet50=resnet50.mar', 'echo.mar']);
    if (started.code !== 0) throw new Error(`--start failed: ${started.stderr}`);
    expect(started.stdout).toMatch(/inference: +http:\/\/127\.0\.0\.1:\d+/);
    inference = runState(cwd).addresses.inference;
  }, 120_000);

  afterAll(() => stopAndClean(cwd), 60_000);

  it('writes the pid and a run state with the bound ports and ready models', () => {
    const state = runState(cwd);
    expect(Number(readFileSync(path.join(cwd, 'logs/model-server.pid'), 'utf8'))).toBe(state.pid);
    expect(state.addresses.inference).not.toMatch(/:0$/);
    expect(state.models.map((m) => [m.name, m.ready])).toEqual(expect.arrayContaining([['resnet50', true], ['echo', true]]));
  });

  it('answers /ping Healthy once the models are ready', async () => {
    const res = await curl([`${inference}/ping`]);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ status: 'Healthy' });
  });

  it('classifies the kitten from curl -X POST -T kitten.jpg (with Expect: 100-continue): the top-5', async () => {
    const res = await curl(['-X', 'POST', `${inference}/predictions/resnet50`, '-T', KITTEN, '-H', 'Expect: 100-continue']);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['x-request-id']).toBeTruthy();
    const top5 = JSON.parse(res.body) as Array<Record<string, number>>;
    expect(top5).toHaveLength(5);
    expect(contenders('kitten.jpg')).toContain(Object.keys(top5[0]!)[0]);
  });

  it('gives a multipart upload (curl -F data=@kitten.jpg) the same answer as the raw body', async () => {
    const raw = await curl(['--data-binary', `@${KITTEN}`, '-H', 'Content-Type: image/jpeg', `${inference}/predictions/resnet50`]);
    const multipart = await curl(['-F', `data=@${KITTEN}`, `${inference}/predictions/resnet50/1.0`]);
    expect(multipart.status).toBe(200);
    expect(JSON.parse(multipart.body)).toEqual(JSON.parse(raw.body));
  });

  it('answers a non-image with 400 and the next request normally', async () => {
    const bad = await curl(['--data-binary', 'not an image', `${inference}/predictions/resnet50`]);
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({ code: 400 });
    const good = await curl(['-X', 'POST', `${inference}/predictions/resnet50`, '-T', KITTEN]);
    expect(good.status).toBe(200);
  });

  it('answers an unknown model 404 in the TorchServe error shape', async () => {
    const res = await curl(['-X', 'POST', `${inference}/predictions/nope`, '-T', KITTEN]);
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toEqual({ code: 404, type: 'ModelNotFound', message: 'Model not found: nope' });
  });

  it('serves ab -k -n 1000 -c 100 with 0 failed requests, every one kept alive', async () => {
    const result = await ab(['-k', '-n', '1000', '-c', '100', '-T', 'image/jpeg', '-p', KITTEN, `${inference}/predictions/resnet50`]);
    expect(result).toEqual({ complete: 1000, failed: 0, keepAlive: 1000, non2xx: 0 });
  }, 180_000);

  it('writes an access-log line per request and a JSON server log', async () => {
    // The server writes its access log asynchronously, lines of one turn of its event loop together:
    // the last answers can reach ab a moment before their lines reach the file.
    const served = () => readFileSync(path.join(cwd, 'logs/access.log'), 'utf8').trim().split('\n');
    let access = served();
    const ok = (lines: string[]) => lines.filter((line) => line.includes('"POST /predictions/resnet50" 200 ')).length;
    for (let i = 0; i < 50 && ok(access) < 1000; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      access = served();
    }
    expect(ok(access)).toBeGreaterThanOrEqual(1000);
    expect(access.at(-1)).toMatch(/^\S+ 127\.0\.0\.1 "POST \/predictions\/resnet50" 200 \d+ [\d.]+ms resnet50\/1\.0 \S+$/);
    const log = readFileSync(path.join(cwd, 'logs/model-server.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { msg: string });
    expect(log.map((l) => l.msg)).toEqual(expect.arrayContaining(['listening', 'model ready']));
  });

  it('--status reports the running server, its addresses and models', async () => {
    const status = await modelServer(cwd, ['--status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`inference:  ${inference}`);
    // At the defaults: one worker per core (docs/server.md, "Workers and threads").
    expect(status.stdout).toMatch(/resnet50 1\.0 \(default\): ready, \d+ workers?, 0 queued/);
    expect(status.stdout).toMatch(/: Healthy/);
  });

  it('--stop answers every request in flight, then refuses connections and exits', async () => {
    const inFlight = Array.from({ length: 6 }, (_, i) =>
      curl(['--data-binary', 'slow', `${inference}/predictions/echo?ms=${500 + i * 100}`]),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const stopped = await modelServer(cwd, ['--stop']);
    expect(stopped.code).toBe(0);
    const answers = await Promise.all(inFlight);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    await expect(curl([`${inference}/ping`])).rejects.toThrow();
    const status = await modelServer(cwd, ['--status']);
    expect(status.code).toBe(1);
    expect(status.stdout).toContain('not running');
  }, 60_000);
});
