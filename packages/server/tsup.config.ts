import { defineConfig } from 'tsup';

export default defineConfig({
  // The worker is its own entry: the server forks it as a separate Node.js process per model worker.
  entry: ['src/index.ts', 'src/cli.ts', 'src/workers/worker-main.ts'],
  format: ['esm'],
  dts: { entry: 'src/index.ts' },
  sourcemap: true,
  clean: true,
  target: 'node20',
});
