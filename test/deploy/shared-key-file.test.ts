import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FIXTURES, archive, curl, modelServer, runState, serverDir, stopAndClean } from '../support/model-server.js';

const KEYS = { inference: 'inference-key-0123456789abcdefghijklmnopqrstuv', management: 'management-key-0123456789abcdefghijklmnopqrstu' };

/** Writes the keys as a Kubernetes Secret volume would: a read-only file in a read-only directory. */
function mountSecret(cwd: string, keys: unknown): string {
  const dir = path.join(cwd, 'secret');
  mkdirSync(dir);
  const file = path.join(dir, 'keys.json');
  writeFileSync(file, JSON.stringify(keys));
  chmodSync(file, 0o444);
  chmodSync(dir, 0o555);
  return file;
}

/** Every replica of a Deployment accepts the keys of one Secret: `shared_key_file`. Real server processes. */
describe('model-server with shared_key_file (a mounted Secret)', () => {
  const cwd = serverDir('enable_token_authorization=true\nshared_key_file=secret/keys.json');
  let secret = '';

  beforeAll(async () => {
    secret = mountSecret(cwd, KEYS);
    archive(cwd, ['--model-name', 'echo', '--handler', path.join(FIXTURES, 'misbehaving.mjs')]);
    const started = await modelServer(cwd, ['--start', '--model-store', 'model_store', '--models', 'echo.mar']);
    if (started.code !== 0) throw new Error(`--start failed: ${started.stderr}`);
  }, 60_000);

  afterAll(async () => {
    await stopAndClean(cwd);
    chmodSync(path.dirname(secret), 0o755);
  }, 60_000);

  it('accepts the keys from the file and refuses requests without them', async () => {
    const { inference, management } = runState(cwd).addresses;
    const predict = ['-X', 'POST', `${inference}/predictions/echo`, '--data-binary', 'hi'];
    expect((await curl(predict)).status).toBe(401);
    expect((await curl(['-H', `Authorization: Bearer ${KEYS.management}`, ...predict])).status).toBe(401);
    expect((await curl(['-H', `Authorization: Bearer ${KEYS.inference}`, ...predict])).status).toBe(200);
    expect((await curl([`${management}/models`])).status).toBe(401);
    expect((await curl(['-H', `Authorization: Bearer ${KEYS.management}`, `${management}/models`])).status).toBe(200);
    // Probes stay open for the kubelet.
    expect((await curl([`${inference}/ping`])).status).toBe(200);
  });

  it('writes no key file of its own and leaves the shared one as it was after stopping', async () => {
    expect(existsSync(path.join(cwd, 'key_file.json'))).toBe(false);
    expect((await modelServer(cwd, ['--stop'])).code).toBe(0);
    expect(JSON.parse(readFileSync(secret, 'utf8'))).toEqual(KEYS);
  });

  it('refuses to start with a key too short to be a secret, naming the file and the field', async () => {
    const bad = serverDir('enable_token_authorization=true\nshared_key_file=secret/keys.json');
    mountSecret(bad, { inference: 'short', management: KEYS.management });
    const started = await modelServer(bad, ['--start']);
    chmodSync(path.join(bad, 'secret'), 0o755);
    await stopAndClean(bad);
    expect(started.code).toBe(1);
    expect(started.stderr).toMatch(/shared_key_file .*keys\.json: inference: must be at least 32 characters/);
  });
});
