import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FIXTURES, archive, curl, modelServer, runState, serverDir, stopAndClean, isAlive } from '../support/model-server.js';

/** Resolves with the answer, or with the curl failure (exit 7: connection refused). */
function attempt(args: string[]) {
  return curl(args).then(
    (answer) => ({ ...answer, refused: false }),
    (error: { code?: number }) => ({ status: 0, body: '', headers: {} as Record<string, string>, refused: error.code === 7 }),
  );
}

/**
 * The order a rolling update needs (docs/deploy.md): on SIGTERM readiness fails at once while the
 * listener still serves for shutdown_delay seconds, then the listener closes, what was accepted is
 * answered, and the process exits. A real `model-server` process and curl.
 */
describe('model-server on SIGTERM with shutdown_delay', () => {
  const SHUTDOWN_DELAY_S = 3;
  const cwd = serverDir(`shutdown_delay=${SHUTDOWN_DELAY_S}`);
  let inference = '';
  let pid = 0;

  beforeAll(async () => {
    archive(cwd, ['--model-name', 'echo', '--handler', path.join(FIXTURES, 'misbehaving.mjs')]);
    const started = await modelServer(cwd, ['--start', '--model-store', 'model_store', '--models', 'echo.mar']);
    if (started.code !== 0) throw new Error(`--start failed: ${started.stderr}`);
    ({ pid } = runState(cwd));
    inference = runState(cwd).addresses.inference;
  }, 60_000);

  afterAll(() => stopAndClean(cwd), 60_000);

  it('fails readiness while still serving, then closes the listener, answers what it accepted and exits', async () => {
    expect((await curl([`${inference}/ping`])).status).toBe(200);
    const signalled = Date.now();
    process.kill(pid, 'SIGTERM');
    await sleep(200);

    // Within the delay: probes fail, inference still answers, and asks kept-alive clients to reconnect.
    const ping = await curl([`${inference}/ping`]);
    const ready = await curl([`${inference}/v2/health/ready`]);
    const served = await curl(['-X', 'POST', `${inference}/predictions/echo`, '--data-binary', 'hello']);
    // Accepted inside the delay, answered after the listener has closed.
    const slow = curl(['-X', 'POST', `${inference}/predictions/echo?ms=${SHUTDOWN_DELAY_S * 1000}`, '--data-binary', 'slow']);
    const insideDelay = Date.now() - signalled;
    expect(insideDelay).toBeLessThan(SHUTDOWN_DELAY_S * 1000);
    expect(ping).toMatchObject({ status: 500, body: expect.stringContaining('Unhealthy') });
    expect(ready.status).toBe(503);
    expect(served.status).toBe(200);
    expect(JSON.parse(served.body)).toMatchObject({ echo: 'hello' });
    expect(served.headers['connection']).toBe('close');

    // Then the listener closes: a new connection is refused, not answered 503.
    let closedAfter = 0;
    while (Date.now() - signalled < (SHUTDOWN_DELAY_S + 10) * 1000) {
      const probe = await attempt([`${inference}/ping`]);
      if (probe.refused) {
        closedAfter = Date.now() - signalled;
        break;
      }
      await sleep(100);
    }
    expect(closedAfter).toBeGreaterThanOrEqual(SHUTDOWN_DELAY_S * 1000 - 100);

    const slowAnswer = await slow;
    expect(slowAnswer.status).toBe(200);
    expect(JSON.parse(slowAnswer.body)).toMatchObject({ echo: 'slow' });
    while (isAlive(pid) && Date.now() - signalled < 30_000) await sleep(100);
    expect(isAlive(pid)).toBe(false);
    process.stdout.write(
      `shutdown_delay=${SHUTDOWN_DELAY_S}s: probes failing and inference served at +${insideDelay} ms, listener closed at +${closedAfter} ms, exited by +${Date.now() - signalled} ms\n`,
    );
  }, 60_000);
});
