import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  archiveHandler, curl, FIXTURES, metricValue, modelServer, runState, startModelServer, type ModelServer,
} from '../../../../test/support/model-server.js';

const INSPECT = join(FIXTURES, 'inspect.mjs');

/**
 * A TorchServe config.properties (its benchmark settings, JVM and Netty keys, `models=`…) starts this
 * server as it is, and the metrics TorchServe's dashboards query are there under its names.
 */
describe("TorchServe's config.properties and metrics", () => {
  let server: ModelServer & { startOutput: string };
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ts-config-'));
    await writeFile(join(work, 'own-config.yaml'), 'batchSize: 8\n');
    server = await startModelServer({
      config: {
        number_of_netty_threads: 32,
        netty_client_threads: 4,
        vmargs: '-Xmx4g -XX:+ExitOnOutOfMemoryError',
        job_queue_size: 1000,
        max_response_size: 100_000,
        metrics_mode: 'prometheus',
        enable_envvars_config: true,
        blacklist_env_vars: 'NODESERVE_TEST_SECRET.*',
        cors_allowed_origin: 'https://app.example',
        cors_allowed_methods: 'GET, POST',
        models: JSON.stringify({
          inspect: { '1.0': { defaultVersion: true, marName: 'inspect-1.0.mar', minWorkers: 2, maxWorkers: 3, batchSize: 4, maxBatchDelay: 50, responseTimeout: 30 }, '2.0': { batchSize: 2 } },
          configured: { '1.0': { batchSize: 4 } },
        }),
      },
      env: { ...process.env, NODESERVE_TEST_SECRET_TOKEN: 'hide me', NODESERVE_TEST_VISIBLE: 'fine' },
      prepare: async (store) => {
        await archiveHandler(store, INSPECT, { name: 'inspect', version: '2.0', fileName: 'inspect-2.0.mar' });
        await archiveHandler(store, INSPECT, { name: 'inspect', version: '1.0', fileName: 'inspect-1.0.mar' });
        await archiveHandler(store, INSPECT, { name: 'configured', configFile: join(work, 'own-config.yaml') });
      },
      models: ['inspect-2.0.mar', 'inspect-1.0.mar', 'configured.mar'],
    });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await rm(work, { recursive: true, force: true });
  });

  describe('config.properties', () => {
    it('starts, with one warning line per JVM or Netty key, naming it and why', async () => {
      const lines = server.startOutput.split('\n').filter((l) => l.startsWith('model-server: warning:'));
      expect(lines).toHaveLength(3);
      for (const key of ['number_of_netty_threads', 'netty_client_threads', 'vmargs']) {
        expect(lines.filter((l) => l.includes(` ${key} is ignored: `))).toHaveLength(1);
      }
      const log = await readFile(join(server.dir, 'logs/model-server.log'), 'utf8');
      expect(log).toContain('vmargs is ignored: JVM options');
    });

    it('applies models= per version: workers, batching, timeout, default version', async () => {
      const all = JSON.parse((await curl([`${server.management}/models/inspect/all`])).body) as Array<Record<string, unknown>>;
      const v1 = all.find((d) => d['modelVersion'] === '1.0')!;
      expect(v1).toMatchObject({ isDefault: true, minWorkers: 2, maxWorkers: 3, batchSize: 4, maxBatchDelay: 50, responseTimeout: 30 });
      expect(v1['workers']).toHaveLength(2);
      expect(all.find((d) => d['modelVersion'] === '2.0')).toMatchObject({ isDefault: false, batchSize: 2, minWorkers: 1 });
    });

    it('lets the archive’s own config win over models=, as TorchServe orders them', async () => {
      const [configured] = JSON.parse((await curl([`${server.management}/models/configured`])).body) as Array<Record<string, unknown>>;
      expect(configured!['batchSize']).toBe(8);
    });

    it('refuses an answer over max_response_size with 507, naming the limit, and keeps serving', async () => {
      const big = await curl(['-X', 'POST', `${server.inference}/predictions/inspect?bytes=200000`, '--data-binary', 'x']);
      expect(big.status).toBe(507);
      expect(JSON.parse(big.body)).toEqual({ code: 507, type: 'ResponseTooLarge', message: 'Model "inspect" answered 200000 bytes, more than max_response_size (100000 bytes)' });
      expect((await curl(['-X', 'POST', `${server.inference}/predictions/inspect?bytes=1000`, '--data-binary', 'x'])).status).toBe(200);
    });

    it('hides blacklist_env_vars from the workers', async () => {
      const res = await curl(['-X', 'POST', `${server.inference}/predictions/inspect`, '--data-binary', 'x']);
      expect(JSON.parse(res.body).env).toEqual(['NODESERVE_TEST_VISIBLE']);
    });

    it('sends the CORS headers and answers preflight requests', async () => {
      const res = await curl(['-X', 'POST', `${server.inference}/predictions/inspect`, '--data-binary', 'x']);
      expect(res.headers['access-control-allow-origin']).toBe('https://app.example');
      const preflight = await curl(['-X', 'OPTIONS', '-H', 'Origin: https://app.example', '-H', 'Access-Control-Request-Method: POST', `${server.inference}/predictions/inspect`]);
      expect([preflight.status, preflight.headers['access-control-allow-methods']]).toEqual([204, 'GET, POST']);
    });
  });

  describe("TorchServe's metric names and labels", () => {
    let text: string;
    const host = hostname();

    beforeAll(async () => {
      for (let i = 0; i < 3; i++) expect((await curl(['-X', 'POST', `${server.inference}/predictions/inspect/1.0`, '--data-binary', 'x'])).status).toBe(200);
      expect((await curl(['-X', 'POST', `${server.inference}/predictions/nope`, '--data-binary', 'x'])).status).toBe(404);
      text = (await curl([`${server.metrics}/metrics`])).body;
    });

    it('counts answers by status class per host: Requests2XX, Requests4XX, Requests5XX', () => {
      expect(text).toContain('# TYPE Requests2XX counter');
      expect(metricValue(text, 'Requests2XX', { Level: 'Host', Hostname: host })).toBeGreaterThanOrEqual(3);
      expect(metricValue(text, 'Requests4XX', { Level: 'Host', Hostname: host })).toBeGreaterThanOrEqual(1);
      // The 507 above counts as TorchServe's frontend counts it.
      expect(metricValue(text, 'Requests5XX', { Level: 'Host', Hostname: host })).toBeGreaterThanOrEqual(1);
    });

    it('has the model counters with model_name, model_version and hostname', () => {
      const labels = { model_name: 'inspect', model_version: '1.0', hostname: host };
      expect(metricValue(text, 'ts_inference_requests_total', { ...labels, status: '200' })).toBeGreaterThanOrEqual(3);
      expect(text).toContain('# TYPE ts_inference_latency_microseconds counter');
      expect(metricValue(text, 'ts_inference_latency_microseconds', labels)).toBeGreaterThan(0);
      expect(metricValue(text, 'ts_queue_latency_microseconds', labels)).toBeGreaterThanOrEqual(0);
    });

    it('has the gauges: QueueTime, WorkerThreadTime, WorkerLoadTime per worker, HandlerTime and PredictionTime per model', () => {
      expect(metricValue(text, 'QueueTime', { Level: 'Host', Hostname: host })).toBeGreaterThanOrEqual(0);
      expect(metricValue(text, 'WorkerThreadTime', { Level: 'Host', Hostname: host })).toBeGreaterThanOrEqual(0);
      const loads = text.split('\n').filter((l) => l.startsWith('WorkerLoadTime{'));
      expect(loads.length).toBeGreaterThanOrEqual(4);
      expect(loads.every((l) => /WorkerName="[^"]+",Level="Host",Hostname="/.test(l) && Number(l.split(' ').pop()) > 0)).toBe(true);
      expect(metricValue(text, 'HandlerTime', { ModelName: 'inspect', Level: 'Model', Hostname: host })).toBeGreaterThanOrEqual(0);
      expect(metricValue(text, 'PredictionTime', { ModelName: 'inspect', Level: 'Model', Hostname: host })).toBeGreaterThanOrEqual(0);
    });

    it('has the host gauges', () => {
      for (const name of ['CPUUtilization', 'MemoryUsed', 'MemoryAvailable', 'MemoryUtilization', 'DiskUsage', 'DiskUtilization', 'DiskAvailable']) {
        expect([name, metricValue(text, name, { Level: 'Host', Hostname: host })]).toEqual([name, expect.any(Number)]);
      }
      expect(metricValue(text, 'MemoryUtilization', { Level: 'Host' })).toBeLessThanOrEqual(100);
    });

    it('keeps its own histograms beside them', () => {
      expect(text).toContain('# TYPE ts_request_latency_seconds histogram');
    });

    it('selects metrics by name, as TorchServe’s metrics API does', async () => {
      const res = await curl(['--globoff', `${server.metrics}/metrics?name[]=ts_inference_latency_microseconds&name[]=Requests2XX`]);
      const names = [...new Set(res.body.split('\n').filter((l) => l.startsWith('# TYPE')).map((l) => l.split(' ')[2]))];
      expect(names.sort()).toEqual(['Requests2XX', 'ts_inference_latency_microseconds']);
    });
  });
});

describe('config.properties keys that stop start-up or switch an API off', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ts-config-'));
  });
  afterEach(async () => {
    await modelServer(dir, ['--stop']);
    await rm(dir, { recursive: true, force: true });
  });

  it('stops on a typo, with the key it probably meant', async () => {
    await writeFile(join(dir, 'config.properties'), 'inference_address=http://127.0.0.1:0\nmax_reponse_size=100\n');
    const result = await modelServer(dir, ['--start']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/config\.properties:2: unknown config key "max_reponse_size"; did you mean "max_response_size"\?/);
  });

  it('opens no metrics listener with enable_metrics_api=false', async () => {
    await writeFile(join(dir, 'config.properties'), ['inference_address=http://127.0.0.1:0', 'management_address=http://127.0.0.1:0', 'metrics_address=http://127.0.0.1:0', 'grpc_inference_address=127.0.0.1:0', 'enable_metrics_api=false'].join('\n'));
    const started = await modelServer(dir, ['--start']);
    expect(started.code).toBe(0);
    expect(started.stdout).toContain('metrics:    off (enable_metrics_api=false)');
    expect(runState(dir).addresses.metrics).toBeUndefined();
  });
});
