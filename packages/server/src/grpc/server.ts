import { createServer, type Socket } from 'node:net';
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

/**
 * The Open Inference Protocol's gRPC service (`inference.GRPCInferenceService`) over plaintext HTTP/2.
 *
 * The listening socket is ours, not grpc-js's: grpc-js has no cap on connections, so a `net.Server`
 * accepts them, refuses those past `max_connections` (closed at once, as the HTTP listeners' accept
 * backstop does; a gRPC client sees UNAVAILABLE), and hands the rest to grpc-js through its
 * connection injector. A connection with no call open for `keep_alive_timeout` seconds is sent
 * GOAWAY and closed (`grpc.max_connection_idle_ms`; 0 turns it off, as for HTTP).
 */
export function createGrpcInferenceServer(ctx: ServerContext, accessLog: AccessLog, inferenceKey: string | undefined): GrpcInferenceServer {
  const responseSizes = new WeakMap<object, number>();
  const idleMs = ctx.config.keep_alive_timeout * 1000;
  const server = new Server({
    'grpc.max_receive_message_length': ctx.config.max_request_size,
    'grpc.max_concurrent_streams': GRPC_LIMITS.maxConcurrentStreams,
    ...(idleMs > 0 ? { 'grpc.max_connection_idle_ms': idleMs } : {}),
  });
  server.addService(inferenceServiceDefinition(responseSizes), inferenceServiceHandlers({ ctx, accessLog, inferenceKey, responseSizes }));
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const sockets = new Set<Socket>();
  const listener = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    injector.injectConnection(socket);
  });
  // Node closes connections past this count as they are accepted.
  listener.maxConnections = ctx.config.max_connections;
  let closing: Promise<void> | undefined;
  return {
    listen: (address) =>
      new Promise((resolve, reject) => {
        listener.once('error', reject);
        listener.listen({ host: address.host, port: address.port }, () => {
          listener.off('error', reject);
          const bound = listener.address();
          const port = typeof bound === 'object' && bound !== null ? bound.port : address.port;
          const host = address.host.includes(':') ? `[${address.host}]` : address.host;
          resolve(`${host}:${port}`);
        });
      }),
    close: (graceMs) =>
      (closing ??= new Promise<void>((resolve) => {
        listener.close();
        const force = setTimeout(() => {
          server.forceShutdown();
          for (const socket of sockets) socket.destroy();
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
