import { defineConfig } from 'tsup';

// `errors` and `datatypes` are subpath exports: the server maps a handler's errors and checks tensor
// datatypes without loading the SDK (ONNX Runtime, sharp), which only model workers need.
const entry = { index: 'src/index.ts', errors: 'src/errors.ts', datatypes: 'src/tensors/datatypes.ts' };

export default defineConfig({
  entry,
  format: ['esm'],
  dts: { entry },
  sourcemap: true,
  clean: true,
  target: 'node20',
});
