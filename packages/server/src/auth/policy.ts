import { isIP } from 'node:net';
import { ServerConfigInvalid } from '../errors.js';

export interface TokenAuthSettings {
  /** The hosts the APIs listen on (inference, management, metrics), e.g. `127.0.0.1`. */
  hosts: string[];
  enable_token_authorization?: boolean | undefined;
  disable_token_authorization?: boolean | undefined;
}

/** True for a listening host only this machine can reach (`0.0.0.0` and `::` are every interface). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^::ffff:127\./i.test(host);
  return false;
}

/**
 * Whether the APIs require a key. On loopback nobody else can connect, so auth stays off for an
 * easy local start unless asked for. Once any address is reachable from the network it is on, and
 * it can only be turned off by saying so explicitly (`disable_token_authorization=true`): an
 * `enable_token_authorization=false` alone does not open a network-facing server.
 */
export function tokenAuthRequired(settings: TokenAuthSettings): boolean {
  if (settings.disable_token_authorization === true) {
    if (settings.enable_token_authorization === true) {
      throw new ServerConfigInvalid('enable_token_authorization and disable_token_authorization are both true; set only one');
    }
    return false;
  }
  if (settings.enable_token_authorization === true) return true;
  const exposed = settings.hosts.filter((h) => !isLoopbackHost(h));
  if (exposed.length === 0) return false;
  if (settings.enable_token_authorization === false) {
    throw new ServerConfigInvalid(
      `Refusing to start without token authorization while listening on ${exposed.join(', ')}, which is not loopback; ` +
        'remove enable_token_authorization=false, or set disable_token_authorization=true to run unprotected on purpose',
    );
  }
  return true;
}
