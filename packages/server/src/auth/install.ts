import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { generateKeys, removeKeyFile, writeKeyFile, type ApiKeys } from './keys.js';
import { isLoopbackHost, tokenAuthRequired } from './policy.js';
import { readSharedKeys } from './shared-keys.js';
import { tokenAuthHook } from './hook.js';

/** Probes and the API description stay open: orchestrators call them without credentials. */
const PUBLIC_INFERENCE_PATHS = new Set(['/', '/ping', '/v2/health/live', '/v2/health/ready']);
const PUBLIC_MANAGEMENT_PATHS = new Set(['/']);

/**
 * Turns token authorization on for the inference and management apps when the policy asks for it
 * (see `tokenAuthRequired`): fresh keys every start, written to `key_file` (0600) and removed when
 * the server stops; or, with `shared_key_file`, the keys read from that file, left as it is. Call
 * before the apps' routes are registered. Metrics stay open, as TorchServe's.
 */
export async function installTokenAuth(
  apps: { inference: FastifyInstance; management: FastifyInstance },
  ctx: ServerContext,
): Promise<ApiKeys | undefined> {
  const { config } = ctx;
  const hosts = [config.inference_address.host, config.management_address.host, config.metrics_address.host];
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
  if (config.shared_key_file !== undefined) {
    const keyFile = resolve(config.shared_key_file);
    keys = await readSharedKeys(keyFile);
    ctx.logger.info('token authorization on: send "Authorization: Bearer <key>"; keys from the shared key file', { keyFile });
  } else {
    keys = generateKeys();
    const keyFile = resolve(config.key_file);
    await writeKeyFile(keyFile, keys);
    ctx.logger.info('token authorization on: send "Authorization: Bearer <key>"; keys in the key file', { keyFile });
    apps.management.addHook('onClose', async () => removeKeyFile(keyFile));
  }
  apps.inference.addHook('onRequest', tokenAuthHook({ key: keys.inference, publicPaths: PUBLIC_INFERENCE_PATHS, kserveErrors: true }));
  apps.management.addHook('onRequest', tokenAuthHook({ key: keys.management, publicPaths: PUBLIC_MANAGEMENT_PATHS }));
  return keys;
}
