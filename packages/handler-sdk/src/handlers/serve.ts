import type { ModelDescription } from '../onnx/describe.js';
import type { Context, HandlerResult, RequestInput } from '../types.js';

export interface ServableHandler {
  initialize(context: Context): Promise<void> | void;
  handle(data: RequestInput[], context: Context): Promise<HandlerResult[]> | HandlerResult[];
  describe?(): ModelDescription;
  /** Exported as the module's `maxBatchSize` (see `HandlerModule`): set by handlers whose `handle` takes any batch. */
  readonly maxBatchSize?: number;
}

export interface ServedModule {
  initialize(context: Context): Promise<void>;
  handle(data: RequestInput[], context: Context): Promise<HandlerResult[]>;
  /** The model's tensors for the v2 metadata endpoint, once initialised; `undefined` if the handler cannot say. */
  describe(): ModelDescription | undefined;
  /** The handler's `maxBatchSize`: the server batches the requests already waiting, up to this many, when no batch size is configured. */
  maxBatchSize: number | undefined;
}

/**
 * The module exports the worker expects, bound to one handler instance:
 * `export const { initialize, handle, describe, maxBatchSize } = serve(new MyHandler())`.
 */
export function serve(handler: ServableHandler): ServedModule {
  return {
    initialize: async (context) => {
      await handler.initialize(context);
    },
    handle: async (data, context) => handler.handle(data, context),
    describe: () => handler.describe?.(),
    maxBatchSize: handler.maxBatchSize,
  };
}
