import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface GrpcLoad {
  complete: number;
  failed: number;
  firstError?: string;
  requestsPerSec: number;
  latencyMs: { p50: number; p99: number };
  connections: number;
}
type RunGrpcLoad = (o: { target: string; request: object; requests: number; concurrency: number; connections?: number; expectBytes?: number }) => Promise<GrpcLoad>;

/**
 * The bench's gRPC load generator against a stand-in ModelInfer (grpc-js, the shipped proto) that
 * answers after 5 ms, echoing its BYTES input, and refuses every tenth call: it must send exactly the
 * calls asked for, never more at once than its concurrency, and count what failed.
 */
describe('npm run bench: the gRPC load generator', () => {
  let server: Server;
  let target: string;
  let received = 0;
  let inFlight = 0;
  let mostInFlight = 0;

  beforeAll(async () => {
    const definition = loadSync(join(ROOT, 'packages/server/proto/grpc_predict_v2.proto'), { keepCase: true, longs: String, arrays: true, oneofs: true });
    server = new Server();
    server.addService(definition['inference.GRPCInferenceService'] as never, {
      ModelInfer: (call: ServerUnaryCall<any, any>, callback: sendUnaryData<object>) => {
        received++;
        inFlight++;
        mostInFlight = Math.max(mostInFlight, inFlight);
        const refuse = received % 10 === 0;
        setTimeout(() => {
          inFlight--;
          if (refuse) callback({ code: status.INVALID_ARGUMENT, details: 'every tenth' });
          else callback(null, { model_name: 'echo', outputs: [{ name: 'output', datatype: 'BYTES', shape: [1], contents: { bytes_contents: call.request.inputs[0].contents.bytes_contents } }] });
        }, 5);
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    target = `127.0.0.1:${port}`;
  });
  afterAll(() => server.forceShutdown());

  it('sends exactly the calls asked for, at most `concurrency` at once, counting the failures', async () => {
    const { runGrpcLoad } = (await import(join(ROOT, 'bench/lib/grpc-load.mjs'))) as { runGrpcLoad: RunGrpcLoad };
    const body = Buffer.from('0123456789');
    const request = { model_name: 'echo', inputs: [{ name: 'body', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [body] } }] };
    const result = await runGrpcLoad({ target, request, requests: 60, concurrency: 6, expectBytes: body.length });
    expect(received).toBe(60);
    expect(mostInFlight).toBeLessThanOrEqual(6);
    expect(mostInFlight).toBeGreaterThan(1);
    expect([result.complete, result.failed, result.connections]).toEqual([60, 6, 1]);
    expect(result.firstError).toBe('INVALID_ARGUMENT: every tenth');
    expect(result.latencyMs.p50).toBeGreaterThanOrEqual(4);
    expect(result.requestsPerSec).toBeGreaterThan(0);
  });
});
