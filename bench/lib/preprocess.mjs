import { imagenetTransform, preprocessImage, selectImageBackend } from '@nodeserve/handler-sdk';

/**
 * The handler SDK's image path (probe, decode, resize, crop, normalise), as the example handler runs
 * it for every request; the ceiling's "pipeline" mode runs it in process with no server around it.
 */
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const backend = await selectImageBackend(quiet);
const transform = imagenetTransform(224);

/** @param {Uint8Array} jpeg @param {Float32Array} [out] one image's slot of the batch tensor, as the handler passes it */
export function toTensor(jpeg, out) {
  return preprocessImage(jpeg, backend, transform, undefined, out);
}

export const backendName = backend.name;
export const jpegDecoder = backend.jpegDecoder;
