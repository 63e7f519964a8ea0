import type { ServerEvents } from '../events.js';
import type { ServerLogger } from './logger.js';

/** Writes the serving core's events about models, workers and handler failures (5xx with their stacks) to the server log. */
export function logServerEvents(events: ServerEvents, logger: ServerLogger): void {
  events.on('model.registered', ({ model, version }) => logger.info('model registered', { model, version }));
  events.on('model.unregistered', ({ model, version }) => logger.info('model unregistered', { model, version }));
  events.on('worker.started', (e) => logger.info('worker started', e));
  events.on('worker.exited', (e) => {
    if (e.expected) logger.info('worker exited', e);
    else logger.error('worker died', e);
  });
  events.on('request.retried', (e) => logger.warn('request retried alone after its worker was lost', e));
  events.on('request.retryFailed', (e) => logger.error('retried request lost its worker again: answered, not retried', e));
  events.on('handler.failed', ({ stack, ...e }) => {
    // A refused input (4xx) is the client's doing: one line. A 5xx is ours to fix: with the handler's stack.
    if (e.status >= 500) logger.error(`handler failed: ${e.message}`, stack === undefined ? e : { ...e, stack });
    else logger.warn(`handler refused a request: ${e.message}`, e);
  });
}
