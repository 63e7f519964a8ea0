import { defineConfig } from 'tsup';

// `errors` is a subpath export: the server maps a handler's errors without loading the SDK
// (ONNX Runtime, sharp), which only model workers need.
const entry = { index: 'src/index.ts', errors: 'src/errors.ts' };

export default defineConfig({
  entry,
  format: ['esm'],
  dts: { entry },
  sourcemap: true,
  clean: true,
  target: 'node20',
});
