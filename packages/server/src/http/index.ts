export { createApp, type AppOptions, type ModelTarget } from './app.js';
export type { ServerContext } from '../context.js';
export { installErrorHandling, sendError, toHttpError, type ErrorBody, type HttpError, type RequestLimits } from './errors.js';
export { createHttpApps, type HttpApps, type HttpListener } from './servers.js';
