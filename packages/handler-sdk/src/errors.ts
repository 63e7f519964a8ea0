import { NodeserveError, type NodeserveErrorOptions } from '@nodeserve/errors';

/**
 * The handler SDK's error catalogue: what a handler raises (or returns in a request's slot) to fail
 * one request. Each class is named after its stable `code`, declares its HTTP status, and is listed
 * in `docs/errors.md`. The worker carries `code`, `status`, `name`, `message` and `stack` across the
 * process boundary; the server answers the client with code, status and message.
 *
 * A handler's own error follows the same rule:
 *
 * ```ts
 * class TextTooLong extends HandlerError {
 *   static readonly code = 'TextTooLong';
 *   static readonly status = 413;
 * }
 * throw new TextTooLong('the text is over 512 tokens');
 * ```
 *
 * `new HandlerError(message)` alone is a 500 with code `HandlerError`; `{ code, status }` in its
 * options give an ad-hoc code without a class.
 */
export class HandlerError extends NodeserveError {
  constructor(message: string, options?: NodeserveErrorOptions) {
    super(message, options);
  }
}

/** The client sent something the handler cannot use (empty body, bad JSON, bad `topk`, wrong tensor shape…). */
export class InvalidInput extends HandlerError {
  static readonly code = 'InvalidInput';
  static readonly status = 400;
}

/** The body is not a decodable image (empty, another format, truncated, corrupt). */
export class ImageUnreadable extends HandlerError {
  static readonly code = 'ImageUnreadable';
  static readonly status = 400;
}

/** The image declares more pixels than the handler's limit (a decompression bomb, or simply too big). */
export class ImageTooLarge extends HandlerError {
  static readonly code = 'ImageTooLarge';
  static readonly status = 400;
}

/** The model failed on valid input, or could not be loaded. */
export class ModelFailed extends HandlerError {
  static readonly code = 'ModelFailed';
  static readonly status = 500;
}

/** How to make each GPU execution provider usable; part of every `GpuUnavailable` message. */
export const GPU_INSTALL_HINT =
  'CUDA: install the CUDA 12 provider files with `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node --foreground-scripts` ' +
  '(installs with onnxruntime_node_install=skip, as nodeserve\'s .npmrc sets, leave them out), ' +
  'with the CUDA 12 runtime and cuDNN 9 on the library path. ' +
  'WebGPU: bundled with onnxruntime-node, needs a Vulkan driver (libvulkan.so.1) and a GPU that exposes it. ' +
  'Or set allowCpuFallback: true in the model config to run on CPU instead.';

/** A GPU was asked for and none of the GPU execution providers tried could create a session. */
export class GpuUnavailable extends HandlerError {
  static readonly code = 'GpuUnavailable';
  static readonly status = 500;
  readonly tried: ReadonlyArray<{ provider: string; reason: string }>;

  constructor(gpuId: number, tried: ReadonlyArray<{ provider: string; reason: string }>) {
    const attempts = tried.map((t) => `${t.provider} (${t.reason})`).join('; ');
    super(`GPU ${gpuId} was requested but no GPU execution provider could be used. Tried: ${attempts}. ${GPU_INSTALL_HINT}`);
    this.tried = tried;
  }
}

/** Every error class the SDK raises, for the catalogue test and the docs. */
export const HANDLER_ERRORS = [InvalidInput, ImageUnreadable, ImageTooLarge, ModelFailed, GpuUnavailable] as const;
