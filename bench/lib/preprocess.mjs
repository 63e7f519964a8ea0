import { imagenetTransform, preprocessImage, selectImageBackend } from '@nodeserve/handler-sdk';

/**
 * The handler SDK's image path (probe, decode, resize, crop, normalise), as the example handler runs
 * it for every request; the ceiling's "pipeline" mode runs it in process with no server around it.
 */
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const backend = await selectImageBackend(quiet);
const transform = imagenetTransform(224);

/** @param {Uint8Array} jpeg */
export function toTensor(jpeg) {
  return preprocessImage(jpeg, backend, transform);
}

export const backendName = backend.name;
