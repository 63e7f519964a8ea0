import { createServer, type Server } from 'node:net';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { credentials, loadPackageDefinition, Metadata, status, type Client, type GrpcObject, type ServiceClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { FIXTURES, archive, metricValue, modelServer, runState, serverDir, stopAndClean } from '../../../../test/support/model-server.js';
import { PROTO_DIR } from '../../../../test/support/python-grpc.js';

type Answer = { error: ServiceError | undefined; response: Record<string, any> | undefined };

/** A client of the service from @grpc/grpc-js, with the proto the server ships. */
function inferenceClient(target: string): Client & Record<string, any> {
  const definition = loadSync(path.join(PROTO_DIR, 'grpc_predict_v2.proto'), { keepCase: true, longs: String, defaults: true, oneofs: true });
  const Service = (loadPackageDefinition(definition)['inference'] as GrpcObject)['GRPCInferenceService'] as ServiceClientConstructor;
  return new Service(target, credentials.createInsecure()) as Client & Record<string, any>;
}

function call(client: Client & Record<string, any>, method: string, request: unknown, key?: string, deadlineMs = 30_000): Promise<Answer> {
  const metadata = new Metadata();
  if (key !== undefined) metadata.set('authorization', `Bearer ${key}`);
  return new Promise((resolve) => {
    client[method](request, metadata, { deadline: Date.now() + deadlineMs }, (error: ServiceError | null, response?: Record<string, any>) =>
      resolve({ error: error ?? undefined, response }),
    );
  });
}

const sleepFor = (ms: number) => ({ model_name: 'sleepy', inputs: [{ name: 'body', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [Buffer.from(String(ms))] } }] });
const codeOf = (answer: Answer) => (answer.error === undefined ? 'OK' : status[answer.error.code]);

/** The gRPC service's place in a server's life: token, deadlines, --status, --stop, a taken port. */
describe('gRPC inference service lifecycle, through @grpc/grpc-js', () => {
  const cwd = serverDir('enable_token_authorization=true\ndefault_workers_per_model=1');
  let client: Client & Record<string, any>;
  let key: string;
  let target: string;
  let metrics: string;
  let readyMessage: string;

  beforeAll(async () => {
    archive(cwd, ['--model-name', 'sleepy', '--handler', path.join(FIXTURES, 'sleepy.mjs')]);
    const started = await modelServer(cwd, ['--start', '--model-store', 'model_store', '--models', 'sleepy.mar']);
    if (started.code !== 0) throw new Error(`model-server did not start: ${started.stderr}`);
    readyMessage = started.stdout;
    const { addresses } = runState(cwd);
    target = addresses.grpcInference ?? '';
    metrics = addresses.metrics ?? '';
    key = (JSON.parse(await readFile(path.join(cwd, 'key_file.json'), 'utf8')) as { inference: string }).inference;
    client = inferenceClient(target);
  }, 120_000);
  afterAll(async () => {
    client?.close();
    await stopAndClean(cwd);
  }, 60_000);

  it('prints its address in the ready message and in --status', async () => {
    expect(target).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(readyMessage).toContain(`  grpc:       ${target}`);
    const printed = await modelServer(cwd, ['--status']);
    expect(printed.stdout).toContain(`  grpc:       ${target}`);
  });

  it('asks for the inference key in authorization metadata, except on the health probes', async () => {
    const without = await call(client, 'ModelInfer', sleepFor(0));
    const wrong = await call(client, 'ModelInfer', sleepFor(0), 'x'.repeat(43));
    expect([codeOf(without), codeOf(wrong)]).toEqual(['UNAUTHENTICATED', 'UNAUTHENTICATED']);
    expect(without.error?.metadata.get('error-type')).toEqual(['Unauthorized']);
    expect(codeOf(await call(client, 'ModelMetadata', { name: 'sleepy' }))).toBe('UNAUTHENTICATED');
    expect((await call(client, 'ServerLive', {})).response).toEqual({ live: true });
    expect((await call(client, 'ServerReady', {})).response).toEqual({ ready: true });
    const answered = await call(client, 'ModelInfer', sleepFor(0), key);
    expect(codeOf(answered)).toBe('OK');
    expect(JSON.parse(Buffer.from(answered.response?.['outputs'][0].contents.bytes_contents[0]).toString())).toEqual({ slept: 0 });
  });

  it('ends a call at its deadline with DEADLINE_EXCEEDED, and counts it as REST counts a response timeout', async () => {
    const before = metricValue(await (await fetch(`${metrics}/metrics`)).text(), 'ts_inference_requests_total', { model_name: 'sleepy', status: '504' }) ?? 0;
    const startedAt = Date.now();
    const late = await call(client, 'ModelInfer', sleepFor(1_500), key, 300);
    expect(codeOf(late)).toBe('DEADLINE_EXCEEDED');
    expect(Date.now() - startedAt).toBeLessThan(1_400);
    // The handler still runs its batch (the engine has no cancellation); the call is recorded once it ends.
    await sleep(1_700);
    const after = metricValue(await (await fetch(`${metrics}/metrics`)).text(), 'ts_inference_requests_total', { model_name: 'sleepy', status: '504' }) ?? 0;
    expect(after - before).toBe(1);
  });

  it('refuses to start when grpc_inference_address is taken, naming it', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    const other = serverDir(`grpc_inference_address=127.0.0.1:${port}`);
    try {
      const result = await modelServer(other, ['--start']);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(`Cannot listen on grpc_inference_address 127.0.0.1:${port}: the port is in use by another process`);
    } finally {
      taken.close();
      await stopAndClean(other);
    }
  }, 60_000);

  it('drains on --stop: the call in flight is answered, a new one gets UNAVAILABLE', async () => {
    const inFlight = call(client, 'ModelInfer', sleepFor(3_000), key);
    await sleep(500);
    const stopping = modelServer(cwd, ['--stop', '--timeout', '30']);
    const log = path.join(cwd, 'logs/model-server.log');
    for (let i = 0; i < 100 && !(await readFile(log, 'utf8')).includes('"draining'); i++) await sleep(50);
    const refused = await call(client, 'ServerLive', {});
    expect(codeOf(refused)).toBe('UNAVAILABLE');
    const answered = await inFlight;
    expect(codeOf(answered)).toBe('OK');
    expect(JSON.parse(Buffer.from(answered.response?.['outputs'][0].contents.bytes_contents[0]).toString())).toEqual({ slept: 3_000 });
    expect((await stopping).code).toBe(0);
  }, 60_000);
});
