import { spawnSync } from 'node:child_process';
import { describe, expect, it } from '@jest/globals';
import { REPO_ROOT, SHARED_MODELS, MOBILENET } from '../../../test/support/handler-context.js';

// ONNX Runtime's process-wide logger is set up once per process, so this runs in a fresh one.
const PROBE = `
import { createSession } from './packages/handler-sdk/src/onnx/create-session.ts';
const quiet = () => {};
const context = {
  systemProperties: { modelDir: ${JSON.stringify(SHARED_MODELS)}, gpuId: 0, batchSize: 1, serverName: 'nodeserve', serverVersion: '0.1.0' },
  config: { deviceType: 'gpu' },
  logger: { debug: quiet, info: quiet, warn: quiet, error: quiet },
};
const outcome = await createSession(${JSON.stringify(`${SHARED_MODELS}/${MOBILENET}`)}, context).then(() => 'session', (e) => e.code);
console.log(outcome);
`;

describe('ONNX Runtime logging while GPU providers are probed', () => {
  it('keeps the provider-bridge "Failed to load library" errors off stderr; the SDK reports the failure itself', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', PROBE], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(run.stdout.trim()).toBe('GpuUnavailable');
    expect(run.stderr).not.toMatch(/\[E:onnxruntime/);
    expect(run.stderr).not.toMatch(/provider_bridge_ort/);
  });
});
