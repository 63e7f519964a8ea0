import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT, SHARED, curl, modelServer, runState, stopAndClean } from '../support/model-server.js';

const exec = promisify(execFile);

/**
 * The container image's install, run here (no docker engine or base image is reachable): the
 * workspaces packed with `npm pack` and installed with production dependencies only, by the same
 * script the Dockerfile runs, into a directory outside the repository so nothing resolves from the
 * repository's node_modules. Then that install's model-archiver packs the ResNet-50 example and that
 * install's model-server classifies a photo: any runtime import of a dev dependency, or a file the
 * packages do not publish, fails here.
 */
describe('model-server installed as the container image installs it', () => {
  const install = mkdtempSync(path.join(tmpdir(), 'ms-prod-install-'));
  const work = mkdtempSync(path.join(tmpdir(), 'ms-prod-run-'));
  const serverCli = path.join(install, 'packages/server/dist/cli.js');
  const archiverCli = path.join(install, 'packages/archiver/dist/cli.js');

  beforeAll(async () => {
    await exec(path.join(ROOT, 'deploy/docker/install-runtime.sh'), [install], {
      cwd: ROOT,
      env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
      timeout: 240_000,
    });
  }, 300_000);

  afterAll(async () => {
    await stopAndClean(work, serverCli);
    rmSync(install, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it('holds the production dependencies and none of the development ones', () => {
    for (const runtime of ['fastify', 'onnxruntime-node', 'sharp', 'koffi', 'zod', 'prom-client', '@grpc/grpc-js', '@grpc/proto-loader']) {
      expect(existsSync(path.join(install, 'node_modules', runtime, 'package.json'))).toBe(true);
    }
    // Not @types/node: protobufjs, under @grpc/proto-loader, lists it among its dependencies.
    for (const dev of ['jest', 'tsup', 'tsx', '@swc/core']) {
      expect(existsSync(path.join(install, 'node_modules', dev))).toBe(false);
    }
    // Only what the packages publish ("files": dist, and the server's gRPC proto), not their sources or tests.
    expect(existsSync(path.join(install, 'packages/server/proto/grpc_predict_v2.proto'))).toBe(true);
    expect(existsSync(path.join(install, 'packages/server/src'))).toBe(false);
    expect(existsSync(path.join(install, 'packages/server/test'))).toBe(false);
  });

  it("packs the ResNet-50 example with that install's model-archiver and classifies Dog1.jpg with its model-server", async () => {
    const store = path.join(work, 'model_store');
    await exec(
      process.execPath,
      [
        archiverCli,
        '--model-name', 'resnet50',
        '--version', '1.0',
        '--serialized-file', path.join(SHARED, 'models/mobilenetv2-12-int8.onnx'),
        '--handler', path.join(ROOT, 'examples/resnet50/img_classifier_service.ts'),
        '--extra-files', path.join(SHARED, 'models/index_to_name.json'),
        '--export-path', store,
      ],
      { cwd: work, timeout: 120_000 },
    );
    writeFileSync(
      path.join(work, 'config.properties'),
      [
        'inference_address=http://127.0.0.1:0',
        'management_address=http://127.0.0.1:0',
        'metrics_address=http://127.0.0.1:0',
        'grpc_inference_address=127.0.0.1:0',
      ].join('\n'),
    );
    const started = await modelServer(work, ['--start', '--model-store', 'model_store', '--models', 'resnet50=resnet50.mar'], 120_000, {
      cli: serverCli,
    });
    if (started.code !== 0) throw new Error(`--start failed: ${started.stderr}`);
    const { pid, addresses } = runState(work);
    // The server that answers is the installed one.
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain(serverCli);

    const answer = await curl(['-X', 'POST', `${addresses.inference}/predictions/resnet50`, '-T', path.join(SHARED, 'images/Dog1.jpg')]);
    expect(answer.status).toBe(200);
    const top = (JSON.parse(answer.body) as Array<Record<string, number>>).map((entry) => Object.keys(entry)[0]);
    // Dog1.jpg is a wide-margin photo (about 98 % Labrador retriever), stable on every CPU.
    expect(top[0]).toBe('Labrador retriever');
    // The install brings koffi's prebuilt binary, so where the host has TurboJPEG (CI installs it)
    // the workers decode JPEGs with it.
    if (process.env['CI'] === 'true') {
      const log = readFileSync(path.join(work, 'logs/model-server.log'), 'utf8');
      expect(log).toMatch(/"msg":"image preprocessing ready".*"jpegDecoder":"turbojpeg \(libturbojpeg\.so\.0\)"/);
    }
  }, 240_000);
});
