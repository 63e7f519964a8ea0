import { connect, type ClientHttp2Session } from 'node:http2';
import { connect as connectTcp } from 'node:net';
import path from 'node:path';
import { credentials, loadPackageDefinition, type Client, type GrpcObject, type ServiceClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { startModelServer, type ModelServer } from '../../../../test/support/model-server.js';
import { PROTO_DIR } from '../../../../test/support/python-grpc.js';

/** How an HTTP/2 connection to the gRPC address ended up: open (the server's SETTINGS arrived), or closed before that. */
function openSession(target: string): Promise<{ session: ClientHttp2Session; outcome: 'open' | 'closed' }> {
  return new Promise((resolve) => {
    const session = connect(`http://${target}`);
    session.on('error', () => {});
    session.once('remoteSettings', () => resolve({ session, outcome: 'open' }));
    session.once('close', () => resolve({ session, outcome: 'closed' }));
  });
}

function serverLive(target: string): Promise<{ error?: ServiceError; live?: boolean }> {
  const definition = loadSync(path.join(PROTO_DIR, 'grpc_predict_v2.proto'), { keepCase: true, defaults: true });
  const Service = (loadPackageDefinition(definition)['inference'] as GrpcObject)['GRPCInferenceService'] as ServiceClientConstructor;
  const client = new Service(target, credentials.createInsecure()) as Client & Record<string, any>;
  return new Promise((resolve) => {
    client['ServerLive']({}, { deadline: Date.now() + 10_000 }, (error: ServiceError | null, response?: { live: boolean }) => {
      client.close();
      resolve(error === null ? { live: response?.live } : { error });
    });
  });
}

/**
 * The gRPC address under the same connection keys as the HTTP ones: `max_connections` connections at
 * most (the one past it is closed before HTTP/2 starts), and an idle connection closed after
 * `keep_alive_timeout`.
 */
describe('gRPC listener limits', () => {
  let server: ModelServer;
  const sessions: ClientHttp2Session[] = [];

  beforeAll(async () => {
    server = await startModelServer({ config: { max_connections: 2, keep_alive_timeout: 1 } });
  }, 120_000);
  afterAll(async () => {
    for (const s of sessions) s.destroy();
    await server?.stop();
  }, 60_000);

  it('serves max_connections connections and closes the next one at once, then takes a new one when a slot frees', async () => {
    const first = await openSession(server.grpcInference);
    const second = await openSession(server.grpcInference);
    sessions.push(first.session, second.session);
    expect([first.outcome, second.outcome]).toEqual(['open', 'open']);

    const third = await openSession(server.grpcInference);
    sessions.push(third.session);
    expect(third.outcome).toBe('closed');
    const refused = await serverLive(server.grpcInference);
    expect(refused.error?.code).toBeDefined();

    // A slot frees when a connection ends; the next connection is served.
    first.session.destroy();
    await new Promise((r) => setTimeout(r, 300));
    expect(await serverLive(server.grpcInference)).toEqual({ live: true });
  }, 30_000);

  it('closes a connection left idle past keep_alive_timeout with GOAWAY', async () => {
    for (const s of sessions) s.destroy();
    await new Promise((r) => setTimeout(r, 300));
    const idle = await openSession(server.grpcInference);
    sessions.push(idle.session);
    expect(idle.outcome).toBe('open');
    const t0 = Date.now();
    const goaway = await new Promise<boolean>((resolve) => {
      idle.session.once('goaway', () => resolve(true));
      idle.session.once('close', () => resolve(false));
    });
    expect(goaway).toBe(true);
    // keep_alive_timeout is 1 s; grpc-js checks idleness on a timer of that period, so within ~2 periods.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(Date.now() - t0).toBeLessThan(5_000);
  }, 30_000);

  it('closes a connection that never speaks HTTP/2 after keep_alive_timeout, so it cannot hold a slot', async () => {
    for (const s of sessions) s.destroy();
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const socket = connectTcp({ host: '127.0.0.1', port: Number(server.grpcInference.split(':').pop()) });
      socket.on('data', () => {}); // the server's SETTINGS and, later, its GOAWAY
      socket.once('error', reject);
      socket.once('close', () => resolve(Date.now() - t0));
      setTimeout(() => {
        socket.destroy();
        reject(new Error('the silent connection was still open after 10 s'));
      }, 10_000).unref();
    });
    expect(closedAfter).toBeGreaterThanOrEqual(900);
    expect(closedAfter).toBeLessThan(5_000);
  }, 30_000);
});
