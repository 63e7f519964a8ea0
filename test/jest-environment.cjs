/**
 * Jest runs each test file in its own V8 context, so `Float32Array` in a test is not the
 * `Float32Array` that native addons (onnxruntime-node, sharp) create, and onnxruntime's
 * `instanceof` checks reject tensors that cross the boundary. Sharing the host's typed-array and
 * buffer constructors makes in-process tests behave as the server's worker processes do.
 */
const NodeEnvironment = require('jest-environment-node').TestEnvironment;

const SHARED = [
  'ArrayBuffer', 'SharedArrayBuffer', 'DataView',
  'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array',
  'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
];

class HostTypedArraysEnvironment extends NodeEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = HostTypedArraysEnvironment;
