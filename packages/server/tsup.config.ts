import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    cli: 'src/cli.ts',
    // Its own entry: the server forks it as a separate Node.js process per model worker.
    'workers/worker-main': 'src/workers/worker-main.ts',
    // `@nodeserve/server/run-state`: reading a running server's pid and bound ports, with zod alone.
    'run-state': 'src/lifecycle/run-state.ts',
  },
  format: ['esm'],
  dts: { entry: { index: 'src/index.ts', 'run-state': 'src/lifecycle/run-state.ts' } },
  sourcemap: true,
  clean: true,
  target: 'node20',
});
