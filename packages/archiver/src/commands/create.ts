import { Option, type Command } from 'commander';
import { ARCHIVE_FORMATS, createArchive, type ArchiveOutputFormat } from '../writer/create-archive.js';
import type { ArchiveProgress } from '../writer/progress.js';
import { formatBytes } from './format.js';

interface CreateFlags {
  modelName?: string;
  modelPath?: string;
  serializedFile?: string;
  extraFiles?: string;
  handler?: string;
  exportPath?: string;
  version: string;
  runtime: string;
  archiveFormat: ArchiveOutputFormat;
  configFile?: string;
  description?: string;
  force?: boolean;
}

/** Redraws one status line on stderr at most ten times a second. */
function terminalProgress(): (p: ArchiveProgress) => void {
  let last = 0;
  return ({ path, bytes, total }) => {
    const now = Date.now();
    const done = bytes >= total;
    if (!done && now - last < 100) return;
    last = now;
    const pct = Math.floor((bytes / total) * 100);
    process.stderr.write(`\r\x1b[K${path}  ${pct}%  ${formatBytes(bytes)} / ${formatBytes(total)}${done ? '\n' : ''}`);
  };
}

/**
 * The archiving command lives on the program itself (`model-archiver --model-name …`), as in MMS
 * and TorchServe. `--model-name` and `--handler` are checked in the action rather than declared
 * mandatory, because commander would otherwise demand them of `inspect` too.
 */
export function registerCreate(program: Command): void {
  program
    .option('--model-name <name>', 'model name (required): letters, digits, "_", "-", ".", starting with a letter or digit; the archive is <name>.mar')
    .option('--model-path <dir>', 'MMS style: every file in this directory goes into the archive')
    .option('--serialized-file <file>', 'TorchServe style: the model file, e.g. model.onnx')
    .option('--extra-files <list>', 'comma-separated files, directories or globs added to the archive root (labels and the like)')
    .option('--handler <spec>', 'handler (required): module[:function] inside --model-path, or path/to/handler.ts[:export]; the export defaults to "handle"')
    .option('--export-path <dir>', 'where the archive is written (created if missing)', '.')
    .option('-v, --version <version>', 'model version, written to the manifest', '1.0')
    .option('--runtime <runtime>', 'runtime of the handler', 'node')
    .addOption(new Option('--archive-format <format>', 'default: zip .mar; zip-store: zip without compression; tgz: <name>.tar.gz with entries under <name>/; no-archive: a directory').choices(ARCHIVE_FORMATS).default('default'))
    .option('--config-file <file>', 'per-model serving settings (YAML or JSON): batchSize, maxBatchDelay, minWorkers, maxWorkers, responseTimeout, deviceType, …')
    .option('--description <text>', 'a description stored in the manifest')
    .option('-f, --force', 'overwrite an existing archive')
    .action(async (flags: CreateFlags) => {
      if (flags.modelName === undefined) program.error('required option --model-name <name> not specified');
      if (flags.handler === undefined) program.error('required option --handler <spec> not specified');
      const started = Date.now();
      const { path, manifest } = await createArchive({
        modelName: flags.modelName,
        handler: flags.handler,
        modelPath: flags.modelPath,
        serializedFile: flags.serializedFile,
        extraFiles: flags.extraFiles?.split(',').map((s) => s.trim()).filter((s) => s !== ''),
        exportPath: flags.exportPath,
        version: flags.version,
        runtime: flags.runtime,
        archiveFormat: flags.archiveFormat,
        configFile: flags.configFile,
        description: flags.description,
        force: flags.force ?? false,
        onProgress: process.stderr.isTTY ? terminalProgress() : undefined,
        onWarning: (message) => process.stderr.write(`model-archiver: warning: ${message}\n`),
      });
      const total = Object.values(manifest.files).reduce((sum, f) => sum + f.size, 0);
      const count = Object.keys(manifest.files).length;
      process.stdout.write(`${path}  ${manifest.model.modelName} ${manifest.model.modelVersion}  ${count} files, ${formatBytes(total)}  (${Date.now() - started} ms)\n`);
    });
}
