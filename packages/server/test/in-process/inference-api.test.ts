import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { ServerConfigSchema } from '../../src/config/index.js';
import { HandlerError, InvalidInput } from '@nodeserve/handler-sdk/errors';
import { HandlerTimeout, QueueFull, WorkerDied } from '../../src/errors.js';
import { ServerEvents, type ServerEventMap } from '../../src/events.js';
import { createHttpApps } from '../../src/http/index.js';
import { AccessLog, ServerLogger, memorySink } from '../../src/logging/index.js';
import type { InferenceOutcome, InferenceRequest } from '../../src/models/types.js';
import { inProcessRegistry } from './in-process-registry.js';

const run = promisify(execFile);

/** Answers with what it was sent, or with the failure the request's `fail` query names. */
function echo(request: InferenceRequest): InferenceOutcome {
  const { input } = request;
  switch (input.query['fail']) {
    case 'queue': throw new QueueFull('echo', 10);
    case 'handler': throw new HandlerError('boom in handler');
    case 'invalid': throw new InvalidInput('not an image');
    case 'timeout': throw new HandlerTimeout('echo', 1);
    case 'died': throw new WorkerDied('echo', 'exit code 1');
    case 'bytes': return { kind: 'bytes', body: Buffer.from(input.body), contentType: 'image/png', queueMs: 0, inferenceMs: 0 };
  }
  const summary = {
    size: input.body.length,
    sha: Buffer.from(input.body).toString('base64').slice(0, 16),
    form: Object.fromEntries(Object.entries(input.form).map(([k, v]) => [k, typeof v === 'string' ? v : v.length])),
    json: input.json,
    contentType: input.contentType,
    query: input.query,
  };
  return { kind: 'json', body: Buffer.from(JSON.stringify(summary)), queueMs: 1, inferenceMs: 2 };
}

describe('inference API over HTTP', () => {
  let app: FastifyInstance;
  let base: string;
  let healthy = true;
  const accessLines = memorySink();
  const logLines = memorySink();
  const finished: Array<ServerEventMap['request.finished'][0]> = [];
  const lifecycle = { ready: true, stopping: false, draining: false };
  const dir = mkdtempSync(path.join(tmpdir(), 'ms-http-'));
  const image = path.join(dir, 'image.bin');
  writeFileSync(image, Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251)));

  beforeAll(async () => {
    const config = ServerConfigSchema.parse({ max_request_size: 100_000 });
    const events = new ServerEvents();
    events.on('request.finished', (e) => finished.push(e));
    const registry = inProcessRegistry(echo, { healthy: () => healthy });
    const logger = new ServerLogger(logLines);
    const apps = await createHttpApps({ config, registry, events, logger, lifecycle }, new AccessLog(accessLines));
    app = apps.inference;
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    base = `http://127.0.0.1:${address.port}`;
  });
  afterAll(() => app.close());

  const curl = async (...args: string[]) => {
    const { stdout } = await run('curl', ['-s', '-w', '\n%{http_code}', ...args]);
    const at = stdout.lastIndexOf('\n');
    return { status: Number(stdout.slice(at + 1)), body: stdout.slice(0, at) };
  };

  it('takes a raw body from curl -T (PUT with Expect: 100-continue) and from POST --data-binary', async () => {
    const put = await curl('-T', image, '-H', 'Expect: 100-continue', `${base}/predictions/echo`);
    expect(put.status).toBe(200);
    expect(JSON.parse(put.body).size).toBe(5000);
    const post = await curl('-X', 'POST', '-H', 'Content-Type: image/jpeg', '--data-binary', `@${image}`, `${base}/predictions/echo/1.0?topk=3`);
    expect(JSON.parse(post.body)).toMatchObject({ size: 5000, contentType: 'image/jpeg', query: { topk: '3' } });
  });

  it('gives a multipart form the same body as the raw request, with every field in form', async () => {
    const raw = JSON.parse((await curl('-X', 'POST', '--data-binary', `@${image}`, `${base}/predictions/echo`)).body);
    const multi = JSON.parse((await curl('-F', `data=@${image}`, '-F', 'note=hello', `${base}/predictions/echo`)).body);
    expect(multi.size).toBe(raw.size);
    expect(multi.sha).toBe(raw.sha);
    expect(multi.form).toEqual({ data: 5000, note: 'hello' });
  });

  it('passes a JSON body on as bytes with its content type, for the worker to parse', async () => {
    const ok = await curl('-H', 'Content-Type: application/json', '-d', '{"x":[1,2]}', `${base}/predictions/echo`);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ size: 11, contentType: 'application/json' });
    expect(JSON.parse(ok.body).json).toBeUndefined();
    // Malformed JSON is the worker's to refuse (400 InvalidInput): the HTTP layer does not read it.
    const bad = await curl('-H', 'Content-Type: application/json', '-d', '{"x":', `${base}/predictions/echo`);
    expect(bad.status).toBe(200);
  });

  it('answers 413 in the error shape for a body over max_request_size, raw or multipart', async () => {
    const big = path.join(dir, 'big.bin');
    writeFileSync(big, Buffer.alloc(200_000, 1));
    const raw = await curl('-X', 'POST', '--data-binary', `@${big}`, `${base}/predictions/echo`);
    expect(raw.status).toBe(413);
    expect(JSON.parse(raw.body)).toMatchObject({ code: 413, type: 'PayloadTooLarge' });
    const multi = await curl('-F', `data=@${big}`, `${base}/predictions/echo`);
    expect(multi.status).toBe(413);
    expect(JSON.parse(multi.body)).toMatchObject({ code: 413, type: 'PayloadTooLarge' });
  });

  it('maps serving errors to their status and stable type', async () => {
    const cases: Array<[string, number, string]> = [
      ['queue', 503, 'QueueFull'],
      ['handler', 500, 'HandlerError'],
      ['invalid', 400, 'InvalidInput'],
      ['timeout', 504, 'HandlerTimeout'],
      ['died', 500, 'WorkerDied'],
    ];
    for (const [fail, status, type] of cases) {
      const res = await fetch(`${base}/predictions/echo?fail=${fail}`, { method: 'POST', body: 'x' });
      expect(res.status).toBe(status);
      expect(await res.json()).toMatchObject({ code: status, type });
      if (status === 503) expect(res.headers.get('retry-after')).toBe('1');
    }
    // A handler failure is logged from the engine's `handler.failed` event, not a second time here.
    expect(logLines.lines.some((l) => l.includes('boom in handler'))).toBe(false);
  });

  it('answers 404 in the error shape for an unknown model, version or route', async () => {
    for (const url of ['/predictions/nope', '/predictions/echo/9.9', '/nothing/here']) {
      const res = await fetch(`${base}${url}`, { method: 'POST', body: 'x' });
      expect(res.status).toBe(404);
      expect(Object.keys((await res.json()) as object)).toEqual(['code', 'type', 'message']);
    }
  });

  it('sends bytes with their content type and an x-request-id on every response', async () => {
    const res = await fetch(`${base}/predictions/echo?fail=bytes`, { method: 'POST', body: 'abc', headers: { 'x-request-id': 'client-id-1' } });
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('x-request-id')).toBe('client-id-1');
    expect(Buffer.from(await res.arrayBuffer()).toString()).toBe('abc');
    const other = await fetch(`${base}/ping`);
    expect(other.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('pings Healthy only while the registry is healthy', async () => {
    expect(await (await fetch(`${base}/ping`)).json()).toEqual({ status: 'Healthy' });
    healthy = false;
    const res = await fetch(`${base}/ping`);
    healthy = true;
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ status: 'Unhealthy' });
  });

  it('writes one access-log line per request and reports finished requests to known models', async () => {
    const before = accessLines.lines.length;
    const events = finished.length;
    await fetch(`${base}/predictions/echo`, { method: 'POST', body: 'x', headers: { 'x-request-id': 'logged-1' } });
    await fetch(`${base}/predictions/unknown`, { method: 'POST', body: 'x' });
    expect(accessLines.lines.length).toBe(before + 2);
    expect(accessLines.lines[before]).toMatch(/ 127\.0\.0\.1 "POST \/predictions\/echo" 200 \d+ [\d.]+ms echo\/1\.0 logged-1$/);
    expect(finished.slice(events)).toEqual([expect.objectContaining({ model: 'echo', version: '1.0', status: 200, api: 'predictions', queueMs: 1, inferenceMs: 2 })]);
  });

  it('refuses new requests with 503 ServerDraining once draining starts', async () => {
    lifecycle.draining = true;
    const res = await fetch(`${base}/predictions/echo`, { method: 'POST', body: 'x' });
    lifecycle.draining = false;
    expect(res.status).toBe(503);
    expect(res.headers.get('connection')).toBe('close');
    expect(await res.json()).toMatchObject({ code: 503, type: 'ServerDraining' });
  });
});
