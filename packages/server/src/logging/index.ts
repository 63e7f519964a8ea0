export { AccessLog, type AccessRecord } from './access-log.js';
export { logServerEvents } from './event-log.js';
export { ServerLogger, type LogLevel } from './logger.js';
export { fileSink, memorySink, type LineSink } from './sink.js';
