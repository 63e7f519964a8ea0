#!/usr/bin/env node
// The command npm links for `model-server`. npm creates a workspace's bin link at install time only when
// its target exists, and dist/ is built after `npm ci`; so the link points at this tracked file, which
// runs the build, and `npx model-server` resolves to this repository instead of the npm registry.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write(`model-server: not built yet (${fileURLToPath(cli)} is missing); run \`npm run build\` in the repository first\n`);
  process.exit(1);
}
await import(cli.href);
