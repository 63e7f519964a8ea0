import { ServerConfigInvalid } from '../errors.js';
import type { ListenAddress, ServerConfig } from './schema.js';

/** The three HTTP APIs, each configured with its own `<api>_address`. */
export type ApiName = 'inference' | 'management' | 'metrics';

export const ADDRESS_KEYS = {
  inference: 'inference_address',
  management: 'management_address',
  metrics: 'metrics_address',
} as const satisfies Record<ApiName, keyof ServerConfig>;

/** One socket the server listens on, and the APIs it serves. */
export interface ListenerPlan {
  address: ListenAddress;
  apis: ApiName[];
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '']);
const LOOPBACK_NAMES = new Set(['127.0.0.1', '::1']);

function normalHost(host: string): string {
  return host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
}

/** Two different hosts on one port that the OS would still refuse to bind twice. */
function overlap(a: string, b: string): boolean {
  if (WILDCARD_HOSTS.has(a) || WILDCARD_HOSTS.has(b)) return true;
  return (a === 'localhost' && LOOPBACK_NAMES.has(b)) || (b === 'localhost' && LOOPBACK_NAMES.has(a));
}

/** The key of the gRPC service's address, the one listener `planListeners` never merges. */
export const GRPC_ADDRESS_KEY = 'grpc_inference_address' satisfies keyof ServerConfig;

/** `host:port`, gRPC's own way of writing an address. */
function hostPort(address: ListenAddress): string {
  return `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
}

function show(address: ListenAddress): string {
  return `http://${hostPort(address)}`;
}

/**
 * Which APIs share a listener. APIs given the same address are served on one socket, as TorchServe
 * does (SageMaker sets `inference_address` and `management_address` alike); port 0 always gets a socket
 * of its own, since each asks the OS for a different free port. Addresses that differ but would
 * collide at bind time (`0.0.0.0:8080` and `127.0.0.1:8080`, or `localhost` and `127.0.0.1` on one
 * port) are a config error naming both keys, rather than a "port in use" that looks like another
 * program's fault. `enable_metrics_api=false` leaves the metrics API without a listener. When given,
 * `grpc_inference_address` is checked against the plan (see `checkGrpcAddress`) but never joins it.
 */
export function planListeners(
  config: Pick<ServerConfig, 'inference_address' | 'management_address' | 'metrics_address'> &
    Partial<Pick<ServerConfig, 'grpc_inference_address'>> & { enable_metrics_api?: boolean },
): ListenerPlan[] {
  const apis: ApiName[] = config.enable_metrics_api === false ? ['inference', 'management'] : ['inference', 'management', 'metrics'];
  const plans: ListenerPlan[] = [];
  for (const api of apis) {
    const address = config[ADDRESS_KEYS[api]];
    const host = normalHost(address.host);
    const same = address.port === 0 ? undefined : plans.find((p) => p.address.port === address.port && normalHost(p.address.host) === host);
    if (same !== undefined) {
      same.apis.push(api);
      continue;
    }
    const clash = address.port === 0 ? undefined : plans.find((p) => p.address.port === address.port && overlap(normalHost(p.address.host), host));
    if (clash !== undefined) {
      const other = ADDRESS_KEYS[clash.apis[0]!];
      throw new ServerConfigInvalid(
        `${ADDRESS_KEYS[api]} ${show(address)} and ${other} ${show(clash.address)} use port ${address.port} on overlapping hosts: ` +
          'give them the same address to serve both APIs on one listener, or different ports',
      );
    }
    plans.push({ address, apis: [api] });
  }
  if (config.grpc_inference_address !== undefined) checkGrpcAddress(config.grpc_inference_address, plans);
  return plans;
}

/**
 * `grpc_inference_address` never shares a listener: gRPC is HTTP/2 on a server of its own (grpc-js),
 * while the HTTP APIs are HTTP/1.1 on fastify's, so one socket cannot serve both. An address equal to
 * or overlapping an HTTP API's is a config error naming both keys, rather than a "port in use" at
 * start-up. Port 0 never clashes: the OS picks a free port for each.
 */
function checkGrpcAddress(grpc: ListenAddress, plans: readonly ListenerPlan[]): void {
  if (grpc.port === 0) return;
  const host = normalHost(grpc.host);
  for (const plan of plans) {
    if (plan.address.port !== grpc.port) continue;
    const other = normalHost(plan.address.host);
    if (other !== host && !overlap(other, host)) continue;
    const keys = listenerKeys(plan);
    throw new ServerConfigInvalid(
      other === host
        ? `${GRPC_ADDRESS_KEY} ${hostPort(grpc)} is the address of ${keys} ${show(plan.address)}: ` +
            'gRPC needs a listener of its own (HTTP/2), so give it another port'
        : `${GRPC_ADDRESS_KEY} ${hostPort(grpc)} and ${keys} ${show(plan.address)} use port ${grpc.port} on overlapping hosts: ` +
            'gRPC needs a listener of its own (HTTP/2), so give it another port',
    );
  }
}

/** `inference_address and management_address`: the keys a listener was configured by, for messages. */
export function listenerKeys(plan: ListenerPlan): string {
  return plan.apis.map((api) => ADDRESS_KEYS[api]).join(' and ');
}
