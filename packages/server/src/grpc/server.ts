import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { ListenAddress } from '../config/index.js';
import type { ServerContext } from '../context.js';
import type { AccessLog } from '../logging/index.js';
import { inferenceServiceDefinition } from './proto.js';
import { inferenceServiceHandlers } from './service.js';

/** Bounds of the gRPC front door, on top of `max_request_size` for each message. */
export const GRPC_LIMITS = {
  /**
   * HTTP/2 streams (calls) one connection may have open at once; a client queues the rest. 100 is the
   * least RFC 9113 recommends, and as many as the tutorial's load keeps in flight.
   */
  maxConcurrentStreams: 100,
} as const;

export interface GrpcInferenceServer {
  /**
   * Binds `address` and serves; resolves with `host:port` as bound (the port the OS chose for 0). A
   * failure rejects with an error whose `code` is the socket error's (`EADDRINUSE`) when it names one.
   */
  listen(address: ListenAddress): Promise<string>;
  /**
   * Stops taking calls and resolves once those in flight are answered (new calls meanwhile get
   * UNAVAILABLE: `ctx.lifecycle.draining` is set first); after `graceMs` the connections are closed.
   */
  close(graceMs: number): Promise<void>;
}

/** The Open Inference Protocol's gRPC service (`inference.GRPCInferenceService`) over plaintext HTTP/2. */
export function createGrpcInferenceServer(ctx: ServerContext, accessLog: AccessLog, inferenceKey: string | undefined): GrpcInferenceServer {
  const responseSizes = new WeakMap<object, number>();
  const server = new Server({
    'grpc.max_receive_message_length': ctx.config.max_request_size,
    'grpc.max_concurrent_streams': GRPC_LIMITS.maxConcurrentStreams,
  });
  server.addService(inferenceServiceDefinition(responseSizes), inferenceServiceHandlers({ ctx, accessLog, inferenceKey, responseSizes }));
  let closing: Promise<void> | undefined;
  return {
    listen: (address) =>
      new Promise((resolve, reject) => {
        const host = address.host.includes(':') ? `[${address.host}]` : address.host;
        server.bindAsync(`${host}:${address.port}`, ServerCredentials.createInsecure(), (error, port) => {
          if (error !== null) {
            // grpc-js reports the socket's error inside its message only.
            const code = /\b(EADDRINUSE|EACCES|EADDRNOTAVAIL)\b/.exec(error.message)?.[1];
            reject(Object.assign(new Error(error.message), code === undefined ? {} : { code }));
            return;
          }
          resolve(`${host}:${port}`);
        });
      }),
    close: (graceMs) =>
      (closing ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        force.unref();
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      })),
  };
}
