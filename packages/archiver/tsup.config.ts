import { defineConfig } from 'tsup';

// `manifest` and `reader` are subpath exports that load less than the whole package: a model worker
// needs the schemas only, a server the reader only.
const entry = { index: 'src/index.ts', manifest: 'src/manifest/index.ts', reader: 'src/reader/index.ts' };

export default defineConfig({
  entry: { ...entry, cli: 'src/cli.ts' },
  format: ['esm'],
  dts: { entry },
  sourcemap: true,
  clean: true,
  target: 'node20',
});
