/**
 * Errors a handler raises. Each has a stable `code` that clients match on and the HTTP `status` it
 * maps to. Codes name what happened (`InvalidInput`, `ImageUnreadable`) and never end in "Error",
 * like the server's own (`ModelNotFound`, `QueueFull`). The server turns any of them into
 * `{"code", "type", "message"}` in one place. The worker carries `code`, `status`, `name`,
 * `message` and `stack` across the process boundary.
 */
export class HandlerError extends Error {
  readonly code: string;
  readonly status: number;

  constructor(code: string, status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
  }
}

/** The client sent something the handler cannot use (empty body, not an image, bad JSON…): 400. */
export class InvalidInputError extends HandlerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('InvalidInput', 400, message, options);
  }
}

/** The model failed on valid input, or could not be loaded: 500. */
export class ModelError extends HandlerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ModelFailed', 500, message, options);
  }
}

/** The body is not a decodable image (empty, another format, truncated, corrupt): 400. */
export class ImageDecodeError extends HandlerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ImageUnreadable', 400, message, options);
  }
}

/** The image declares more pixels than the handler's limit (a decompression bomb, or simply too big): 400. */
export class ImageTooLargeError extends HandlerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ImageTooLarge', 400, message, options);
  }
}

/** How to make each GPU execution provider usable; part of every `GpuUnavailableError` message. */
export const GPU_INSTALL_HINT =
  'CUDA: install the CUDA 12 provider files with `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node --foreground-scripts` ' +
  '(installs with onnxruntime_node_install=skip, as nodeserve\'s .npmrc sets, leave them out), ' +
  'with the CUDA 12 runtime and cuDNN 9 on the library path. ' +
  'WebGPU: bundled with onnxruntime-node, needs a Vulkan driver (libvulkan.so.1) and a GPU that exposes it. ' +
  'Or set allowCpuFallback: true in the model config to run on CPU instead.';

/** A GPU was asked for and none of the GPU execution providers tried could create a session: 500. */
export class GpuUnavailableError extends HandlerError {
  readonly tried: ReadonlyArray<{ provider: string; reason: string }>;

  constructor(gpuId: number, tried: ReadonlyArray<{ provider: string; reason: string }>) {
    const attempts = tried.map((t) => `${t.provider} (${t.reason})`).join('; ');
    super('GpuUnavailable', 500, `GPU ${gpuId} was requested but no GPU execution provider could be used. Tried: ${attempts}. ${GPU_INSTALL_HINT}`);
    this.tried = tried;
  }
}
