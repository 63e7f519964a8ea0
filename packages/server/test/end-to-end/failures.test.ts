import path from 'node:path';
import { FIXTURES, archive, curl, modelServer, runState, serverDir, stopAndClean } from '../../../../test/support/model-server.js';

/** A handler that exits, hangs or is slow on given inputs: only the requests concerned may fail. */
describe('model-server: failing handlers and back-pressure', () => {
  // One worker: the requests after a crash must reach its replacement, not a second worker.
  const cwd = serverDir('job_queue_size=10\ndefault_response_timeout=2\ndefault_workers_per_model=1\n');
  let predictions: string;

  beforeAll(async () => {
    archive(cwd, ['--model-name', 'flaky', '--handler', path.join(FIXTURES, 'misbehaving.mjs')]);
    const started = await modelServer(cwd, ['--start', '--model-store', 'model_store', '--models', 'flaky.mar']);
    if (started.code !== 0) throw new Error(`--start failed: ${started.stderr}`);
    predictions = `${runState(cwd).addresses.inference}/predictions/flaky`;
  }, 60_000);

  afterAll(() => stopAndClean(cwd), 60_000);

  it('loses only the request whose handler exits the worker; the next request succeeds', async () => {
    const before = JSON.parse((await curl(['--data-binary', 'hello', predictions])).body) as { pid: number };
    const died = await curl(['--data-binary', 'exit', predictions]);
    expect(died.status).toBe(500);
    expect(JSON.parse(died.body)).toMatchObject({ code: 500, type: 'WorkerDied' });
    const after = await curl(['--data-binary', 'again', predictions]);
    expect(after.status).toBe(200);
    expect(JSON.parse(after.body)).toMatchObject({ echo: 'again' });
    expect((JSON.parse(after.body) as { pid: number }).pid).not.toBe(before.pid);
  }, 30_000);

  it('answers a hanging request 504 after the response timeout; the next request succeeds', async () => {
    const hung = await curl(['--data-binary', 'hang', predictions]);
    expect(hung.status).toBe(504);
    expect(JSON.parse(hung.body)).toMatchObject({ code: 504, type: 'HandlerTimeout' });
    const next = await curl(['--data-binary', 'fine', predictions]);
    expect(next.status).toBe(200);
    expect(JSON.parse(next.body)).toMatchObject({ echo: 'fine' });
  }, 30_000);

  it('answers 503 with Retry-After beyond a queue of 10 under 100 concurrent slow requests, and no request hangs', async () => {
    const responses = await Promise.all(
      Array.from({ length: 100 }, () =>
        fetch(`${predictions}?ms=200`, { method: 'POST', body: 'slow', signal: AbortSignal.timeout(60_000) }).then(async (res) => ({
          status: res.status,
          retryAfter: res.headers.get('retry-after'),
          body: (await res.json()) as { code?: number; type?: string },
        })),
      ),
    );
    const ok = responses.filter((r) => r.status === 200);
    const refused = responses.filter((r) => r.status === 503);
    expect(ok.length + refused.length).toBe(100);
    expect(ok.length).toBeGreaterThanOrEqual(10);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.body).toMatchObject({ code: 503, type: 'QueueFull' });
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
    }
    const after = await curl(['--data-binary', 'still here', predictions]);
    expect(after.status).toBe(200);
  }, 60_000);
});
