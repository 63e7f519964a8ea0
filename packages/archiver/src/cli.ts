#!/usr/bin/env node
import { Command } from 'commander';
import { registerCreate } from './commands/create.js';
import { registerInspect } from './commands/inspect.js';
import { NodeserveError } from '@nodeserve/errors';
import { ARCHIVER_VERSION } from './version.js';

const program = new Command('model-archiver')
  .description('Pack an ONNX model and a TypeScript handler into a .mar archive, or inspect one.')
  .version(ARCHIVER_VERSION, '-V, --archiver-version', 'print the archiver version')
  // Usage errors get one line (a "Did you mean" suggestion joined onto it) and a pointer to
  // --help, not the whole help after the error.
  .configureOutput({
    outputError: (text, write) => {
      const line = text.trim().replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
      write(`model-archiver: error: ${line}\nsee model-archiver --help\n`);
    },
  });
registerCreate(program);
registerInspect(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const message = err instanceof NodeserveError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
  process.stderr.write(`model-archiver: error: ${message}\n`);
  process.exitCode = 1;
}
