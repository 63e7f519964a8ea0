import type { FastifyReply, FastifyRequest } from 'fastify';
import { Unauthorized } from '../errors.js';
import { keysMatch } from './keys.js';

const BEARER = /^Bearer[ ]+(\S{1,512})\s*$/i;
const KSERVE_PATH = /^\/v[12](?:\/|$)/;

export interface AuthHookOptions {
  /** The key this app accepts, or the key for a path (without query) when one app serves two APIs. */
  key: string | ((path: string) => string);
  /** Paths (without query) open without a key: liveness and readiness probes. */
  publicPaths?: ReadonlySet<string>;
  /** The error body: `{"code","type","message"}` (default), or KServe's `{"error"}` for `/v1` and `/v2` paths. */
  kserveErrors?: boolean;
}

/**
 * Whether an `Authorization` value (an HTTP header, or gRPC's `authorization` metadata) is
 * `Bearer <key>` with this key.
 */
export function bearerMatches(authorization: string | undefined, key: string): boolean {
  const match = BEARER.exec(authorization ?? '');
  return match?.[1] !== undefined && keysMatch(match[1], key);
}

/** A fastify `onRequest` hook that answers 401 unless the request carries the app's key. */
export function tokenAuthHook(options: AuthHookOptions) {
  return async function checkToken(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const path = request.url.split('?', 1)[0] ?? '';
    if (options.publicPaths?.has(path) === true) return undefined;
    const key = typeof options.key === 'string' ? options.key : options.key(path);
    if (bearerMatches(request.headers.authorization, key)) return undefined;
    reply.header('www-authenticate', 'Bearer');
    const refused = new Unauthorized();
    const body = options.kserveErrors === true && KSERVE_PATH.test(path)
      ? { error: refused.message }
      : { code: refused.status, type: refused.code, message: refused.message };
    return reply.code(refused.status).send(body);
  };
}
