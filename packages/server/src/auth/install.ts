import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ApiName } from '../config/listeners.js';
import type { ServerContext } from '../context.js';
import { generateKeys, removeKeyFile, writeKeyFile, type ApiKeys } from './keys.js';
import { isLoopbackHost, tokenAuthRequired } from './policy.js';
import { readSharedKeys } from './shared-keys.js';
import { tokenAuthHook } from './hook.js';

/** Probes and the API description stay open: orchestrators call them without credentials. */
const PUBLIC_PATHS: Record<ApiName, readonly string[]> = {
  inference: ['/', '/ping', '/v2/health/live', '/v2/health/ready'],
  management: ['/'],
  // Open, as TorchServe's: keep metrics_address on loopback or behind the scraper's network.
  metrics: ['/metrics'],
};

/** The management API's paths; on a listener it shares with the inference API, these take the management key. */
const MANAGEMENT_PATH = /^\/models(?:\/|$)/;

/**
 * Turns token authorization on for the inference and management APIs when the policy asks for it
 * (see `tokenAuthRequired`): fresh keys every start, written to `key_file` (0600) and removed when
 * the server stops; or, with `shared_key_file`, the keys read from that file, left as it is. Each
 * API keeps its own key also when it shares a listener with another. Call before the routes are
 * registered. Metrics stay open, as TorchServe's.
 */
export async function installTokenAuth(
  listeners: ReadonlyArray<{ app: FastifyInstance; apis: readonly ApiName[] }>,
  ctx: ServerContext,
): Promise<ApiKeys | undefined> {
  const { config } = ctx;
  const hosts = [config.inference_address.host, config.management_address.host, config.metrics_address.host, config.grpc_inference_address.host];
  const on = tokenAuthRequired({
    hosts,
    enable_token_authorization: config.enable_token_authorization,
    disable_token_authorization: config.disable_token_authorization,
  });
  if (!on) {
    if (config.disable_token_authorization === true && hosts.some((h) => !isLoopbackHost(h))) {
      ctx.logger.warn('token authorization is disabled while an API listens beyond loopback: anyone who can reach it can use it');
    }
    return undefined;
  }
  let keys: ApiKeys;
  let written: string | undefined;
  if (config.shared_key_file !== undefined) {
    const keyFile = resolve(config.shared_key_file);
    keys = await readSharedKeys(keyFile);
    ctx.logger.info('token authorization on: send "Authorization: Bearer <key>"; keys from the shared key file', { keyFile });
  } else {
    keys = generateKeys();
    written = resolve(config.key_file);
    await writeKeyFile(written, keys);
    ctx.logger.info('token authorization on: send "Authorization: Bearer <key>"; keys in the key file', { keyFile: written });
  }
  for (const { app, apis } of listeners) {
    const inference = apis.includes('inference');
    const management = apis.includes('management');
    if (written !== undefined && management) {
      const keyFile = written;
      app.addHook('onClose', async () => removeKeyFile(keyFile));
    }
    if (!inference && !management) continue;
    app.addHook('onRequest', tokenAuthHook({
      key: (path) => (management && (!inference || MANAGEMENT_PATH.test(path)) ? keys.management : keys.inference),
      publicPaths: new Set(apis.flatMap((api) => PUBLIC_PATHS[api])),
      kserveErrors: inference,
    }));
  }
  return keys;
}
