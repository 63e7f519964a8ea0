import type { ServerContext } from '../context.js';
import type { ModelRegistry } from '../models/types.js';

/**
 * Server readiness, as `/ping` judges it: not ready while the initial models load, while stopping
 * (`shutdown_delay`) or draining, nor while any model lacks its minimum of live workers.
 */
export function serverReady(ctx: Pick<ServerContext, 'lifecycle' | 'registry'>): boolean {
  return ctx.lifecycle.ready && !ctx.lifecycle.draining && ctx.registry.isHealthy();
}

/** A model is ready only while it has its live workers. Throws `ModelNotFound` for a name or version it does not serve. */
export function modelReady(registry: ModelRegistry, model: string, version: string | undefined): { name: string; ready: boolean } {
  const handle = registry.resolve(model, version);
  return { name: handle.name, ready: handle.isReady() };
}
