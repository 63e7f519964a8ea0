export { createApp, type AppOptions, type ModelTarget } from './app.js';
export type { ServerContext } from '../context.js';
export { installErrorHandling, sendError, toHttpError, type ErrorBody, type HttpError } from './errors.js';
export { createHttpApps, type HttpApps } from './servers.js';
