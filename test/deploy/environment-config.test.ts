import path from 'node:path';
import { FIXTURES, archive, curl, modelServer, runState, serverDir, stopAndClean } from '../support/model-server.js';

/**
 * What a pod does: config keys as TS_<KEY> environment variables, with no config file of its own but
 * the image's, which turns enable_envvars_config on. Real `model-server --start` processes.
 */
describe('model-server configured from TS_<KEY> environment variables', () => {
  const podEnv = {
    TS_MODEL_STORE: 'model_store',
    TS_LOAD_MODELS: 'echo=echo.mar',
    TS_DEFAULT_WORKERS_PER_MODEL: '2',
    TS_MAX_REQUEST_SIZE: '64',
    // Not ours: KServe's TorchServe runtime sets it; it must not stop the server.
    TS_SERVICE_ENVELOPE: 'kserve',
  };
  const dirs: string[] = [];
  const newDir = (config: string) => {
    const cwd = serverDir(config);
    archive(cwd, ['--model-name', 'echo', '--handler', path.join(FIXTURES, 'misbehaving.mjs')]);
    dirs.push(cwd);
    return cwd;
  };

  afterAll(async () => {
    await Promise.all(dirs.map((cwd) => stopAndClean(cwd)));
  }, 60_000);

  it('takes them over config.properties when enable_envvars_config=true', async () => {
    const cwd = newDir('enable_envvars_config=true\ndefault_workers_per_model=1\nmax_request_size=100000');
    const started = await modelServer(cwd, ['--start'], 120_000, { env: { ...process.env, ...podEnv } });
    expect(started).toMatchObject({ code: 0 });
    const state = runState(cwd);
    expect(state.models).toEqual([expect.objectContaining({ name: 'echo', ready: true, workers: 2 })]);
    const predictions = `${state.addresses.inference}/predictions/echo`;
    expect((await curl(['-X', 'POST', predictions, '--data-binary', 'x'.repeat(32)])).status).toBe(200);
    const tooLarge = await curl(['-X', 'POST', predictions, '--data-binary', 'x'.repeat(65)]);
    expect(tooLarge.status).toBe(413);
  });

  it('ignores them without enable_envvars_config, as TorchServe does', async () => {
    const cwd = newDir('default_workers_per_model=1');
    const started = await modelServer(cwd, ['--start', '--model-store', 'model_store', '--models', 'echo.mar'], 120_000, {
      env: { ...process.env, ...podEnv, TS_ENABLE_ENVVARS_CONFIG: 'true' },
    });
    expect(started).toMatchObject({ code: 0 });
    const state = runState(cwd);
    expect(state.models).toEqual([expect.objectContaining({ name: 'echo', workers: 1 })]);
    const body = 'x'.repeat(65);
    expect((await curl(['-X', 'POST', `${state.addresses.inference}/predictions/echo`, '--data-binary', body])).status).toBe(200);
  });

  it('refuses to start on a bad value, naming the variable', async () => {
    const cwd = serverDir('enable_envvars_config=true');
    dirs.push(cwd);
    const started = await modelServer(cwd, ['--start'], 60_000, { env: { ...process.env, TS_JOB_QUEUE_SIZE: 'lots' } });
    expect(started.code).toBe(1);
    expect(started.stderr).toContain('environment variable TS_JOB_QUEUE_SIZE: job_queue_size: must be a whole number');
  });
});
