import { createServer, type Server } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  archiveHandler, curl, FIXTURES, freePort, modelServer, runState, startModelServer, stopAndClean, type ModelServer,
} from '../../../../test/support/model-server.js';

const INSPECT = join(FIXTURES, 'inspect.mjs');

/**
 * One address for several APIs, as SageMaker configures TorchServe: the server opens one listener and
 * serves every API given that address on it; a port held by another program still fails, naming it.
 */
describe('APIs configured with the same address', () => {
  describe('inference, management and metrics on one port', () => {
    let server: ModelServer;
    let address: string;

    beforeAll(async () => {
      const port = await freePort();
      address = `http://127.0.0.1:${port}`;
      server = await startModelServer({
        config: { inference_address: address, management_address: address, metrics_address: address },
        prepare: async (store) => void (await archiveHandler(store, INSPECT, { name: 'inspect' })),
        models: ['inspect.mar'],
      });
    }, 120_000);
    afterAll(() => server?.stop());

    it('starts and reports the one address for every HTTP API, and gRPC on a listener of its own', () => {
      const { grpcInference, ...http } = runState(server.dir).addresses;
      expect(http).toEqual({ inference: address, management: address, metrics: address });
      expect(grpcInference).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(`http://${grpcInference}`).not.toBe(address);
    });

    it('answers every API on that port', async () => {
      expect((await curl([`${address}/ping`])).status).toBe(200);
      const models = await curl([`${address}/models`]);
      expect([models.status, JSON.parse(models.body).models[0].modelName]).toEqual([200, 'inspect']);
      const predicted = await curl(['-X', 'POST', `${address}/predictions/inspect`, '--data-binary', 'hello']);
      expect([predicted.status, JSON.parse(predicted.body).body]).toEqual([200, 'hello']);
      expect((await curl([`${address}/v2/models/inspect/ready`])).status).toBe(200);
      const metrics = await curl([`${address}/metrics`]);
      expect(metrics.status).toBe(200);
      expect(metrics.body).toContain('ts_inference_requests_total{');
      const description = await curl(['-X', 'OPTIONS', `${address}/`]);
      expect([description.status, JSON.parse(description.body).openapi]).toEqual([200, expect.stringMatching(/^3\./)]);
    });
  });

  describe('with token authorization on', () => {
    let server: ModelServer;
    let address: string;
    let keys: { inference: string; management: string };

    beforeAll(async () => {
      address = `http://127.0.0.1:${await freePort()}`;
      server = await startModelServer({
        config: { inference_address: address, management_address: address, enable_token_authorization: true },
        prepare: async (store) => void (await archiveHandler(store, INSPECT, { name: 'inspect' })),
        models: ['inspect.mar'],
      });
      keys = JSON.parse(await readFile(join(server.dir, 'key_file.json'), 'utf8')) as typeof keys;
    }, 120_000);
    afterAll(() => server?.stop());

    it('keeps each API’s own key on the shared port', async () => {
      const as = (key: string) => ['-H', `Authorization: Bearer ${key}`];
      expect((await curl([...as(keys.management), `${address}/models`])).status).toBe(200);
      expect((await curl([...as(keys.inference), `${address}/models`])).status).toBe(401);
      expect((await curl([...as(keys.inference), '-X', 'POST', `${address}/predictions/inspect`, '--data-binary', 'x'])).status).toBe(200);
      expect((await curl([...as(keys.management), '-X', 'POST', `${address}/predictions/inspect`, '--data-binary', 'x'])).status).toBe(401);
      expect((await curl([`${address}/ping`])).status).toBe(200);
    });
  });

  describe('a conflict that is not the server’s own', () => {
    let dir: string;
    let holder: Server | undefined;

    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ms-listen-'));
    });
    afterEach(async () => {
      await stopAndClean(dir);
      await rm(dir, { recursive: true, force: true });
      await new Promise<void>((resolve) => (holder === undefined ? resolve() : holder.close(() => resolve())));
      holder = undefined;
    });

    it('fails --start naming the keys and the port another process holds', async () => {
      holder = createServer();
      await new Promise<void>((resolve) => holder!.listen(0, '127.0.0.1', resolve));
      const port = (holder.address() as { port: number }).port;
      const address = `http://127.0.0.1:${port}`;
      await writeFile(
        join(dir, 'config.properties'),
        `inference_address=${address}\nmanagement_address=${address}\nmetrics_address=http://127.0.0.1:0\ngrpc_inference_address=127.0.0.1:0\n`,
      );
      const result = await modelServer(dir, ['--start']);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`Cannot listen on inference_address and management_address 127.0.0.1:${port}: the port is in use by another process`);
    });

    it('refuses addresses that differ but collide when bound, naming both', async () => {
      const port = await freePort();
      await writeFile(join(dir, 'config.properties'), `inference_address=http://0.0.0.0:${port}\nmanagement_address=http://127.0.0.1:${port}\n`);
      const result = await modelServer(dir, ['--start']);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`management_address http://127.0.0.1:${port} and inference_address http://0.0.0.0:${port} use port ${port} on overlapping hosts`);
    });

    it('refuses a gRPC address equal to an HTTP API\'s, naming both: gRPC needs a listener of its own', async () => {
      const port = await freePort();
      const address = `http://127.0.0.1:${port}`;
      await writeFile(
        join(dir, 'config.properties'),
        `inference_address=${address}\nmanagement_address=${address}\nmetrics_address=http://127.0.0.1:0\ngrpc_inference_address=127.0.0.1:${port}\n`,
      );
      const result = await modelServer(dir, ['--start']);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(
        `grpc_inference_address 127.0.0.1:${port} is the address of inference_address and management_address ${address}: gRPC needs a listener of its own (HTTP/2)`,
      );
    });
  });
});
