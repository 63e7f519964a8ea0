import type { ModelRegistry } from '../models/types.js';
import type { ModelTarget } from './app.js';

/**
 * The model version a request names, when it is one the registry serves; `undefined` otherwise, so
 * unknown names never become metric labels.
 */
export function knownTarget(registry: ModelRegistry, model: string, version: string | undefined): ModelTarget | undefined {
  try {
    const handle = registry.resolve(model, version);
    return { model: handle.name, version: handle.version };
  } catch {
    return undefined;
  }
}
