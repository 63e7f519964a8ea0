import { ServeError } from '../errors.js';

/** An initial model could not be loaded: the message names its archive, then the reason. */
export class ModelLoadFailed extends ServeError {
  constructor(archive: string, cause: unknown) {
    super('ModelLoadFailed', 500, `Cannot load model from ${archive}: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/** A signal arrived while the server was starting: it stops without serving. */
export class StartupAborted extends ServeError {
  constructor(signal: string) {
    super('StartupAborted', 503, `start-up aborted by ${signal}`);
  }
}
