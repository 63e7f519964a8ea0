import type { ServerConfig } from './config/index.js';
import type { ServerEvents } from './events.js';
import type { ServerLogger } from './logging/index.js';
import type { ModelRegistry } from './models/types.js';

/** What every route plugin of the three apps (inference, management, metrics) is given. */
export interface ServerContext {
  config: ServerConfig;
  registry: ModelRegistry;
  events: ServerEvents;
  logger: ServerLogger;
  lifecycle: {
    /** Set once every initial model is ready; `/ping` is unhealthy before, and again once stopping. */
    ready: boolean;
    /**
     * Set on SIGTERM for `shutdown_delay` seconds before draining: readiness fails and every answer
     * carries `Connection: close`, but requests are still served.
     */
    stopping: boolean;
    /** Set once the server starts draining: every app answers new requests 503 `ServerDraining`. */
    draining: boolean;
  };
}
