import { createHash } from 'node:crypto';
import type { z } from 'zod';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { InputConflict, InputMissing, InvalidOption, OutputExists } from '../errors.js';
import { formatCreatedOn } from '../manifest/created-on.js';
import { readModelConfig } from './config-file.js';
import { ManifestSchema, MANIFEST_PATH, ModelNameSchema, ModelVersionSchema, type Manifest } from '../manifest/schema.js';
import type { ModelConfig } from '../manifest/model-config.js';
import { ARCHIVER_VERSION } from '../version.js';
import { BUNDLE_MAP_PATH, BUNDLE_PATH, bundleHandler } from './compile-handler.js';
import { typeCheckHandler } from './type-check.js';
import { shouldStore } from './compression.js';
import { emitDirectory, emitTgz, emitZip, type ArchiveItem } from './emit.js';
import { resolveHandlerSpec } from './handler-spec.js';
import { collectDirectory, collectExtraFiles, collectPath, type InputFile } from './inputs.js';
import type { ArchiveProgress } from './progress.js';

export const ARCHIVE_FORMATS = ['default', 'zip-store', 'tgz', 'no-archive'] as const;
export type ArchiveOutputFormat = (typeof ARCHIVE_FORMATS)[number];

export interface CreateArchiveOptions {
  modelName: string;
  /** `module[:function]` inside `modelPath`, or `path/to/handler.ts[:export]`. */
  handler: string;
  /** MMS style: every file in this directory goes into the archive. */
  modelPath?: string;
  /** TorchServe style: the model file. */
  serializedFile?: string;
  /** Files, directories or globs (`* ? [..]`) added to the archive root. */
  extraFiles?: string[];
  /** Defaults to the working directory; created if missing. */
  exportPath?: string;
  /** Defaults to `1.0`. */
  version?: string;
  runtime?: string;
  archiveFormat?: ArchiveOutputFormat;
  /** Per-model serving settings, YAML or JSON, validated and stored in the manifest. */
  configFile?: string;
  force?: boolean;
  description?: string;
  /** Relative paths are resolved against this; defaults to `process.cwd()`. */
  cwd?: string;
  onProgress?: (progress: ArchiveProgress) => void;
  onWarning?: (message: string) => void;
}

const OUTPUT_NAMES: Record<ArchiveOutputFormat, (name: string) => string> = {
  default: (name) => `${name}.mar`,
  'zip-store': (name) => `${name}.mar`,
  tgz: (name) => `${name}.tar.gz`,
  'no-archive': (name) => name,
};

function check<T>(value: unknown, schema: z.ZodType<T>, flag: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new InvalidOption(`${flag} ${JSON.stringify(value)}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  return parsed.data;
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** The model-archiver's engine: checks every input, compiles the handler, then writes the archive atomically. */
export async function createArchive(options: CreateArchiveOptions): Promise<{ path: string; manifest: Manifest }> {
  const cwd = options.cwd ?? process.cwd();
  const warn = options.onWarning ?? (() => undefined);
  const modelName = check<string>(options.modelName, ModelNameSchema, '--model-name');
  const modelVersion = check<string>(options.version ?? '1.0', ModelVersionSchema, '--version');
  const runtime = options.runtime ?? 'node';
  if (runtime !== 'node') throw new InvalidOption(`--runtime "${runtime}": only "node" is supported`);
  const format = options.archiveFormat ?? 'default';
  if (!ARCHIVE_FORMATS.includes(format)) throw new InvalidOption(`--archive-format "${format}": expected one of ${ARCHIVE_FORMATS.join(', ')}`);

  const modelPath = options.modelPath === undefined ? undefined : resolve(cwd, options.modelPath);
  // TorchServe allows this for handlers that load no model; it is more often a forgotten flag.
  if (modelPath === undefined && options.serializedFile === undefined) {
    warn('no model file (--serialized-file or --model-path): the archive holds only the handler');
  }
  const inputs: InputFile[] = [];
  if (modelPath) {
    if (!(await stat(modelPath).catch(() => undefined))?.isDirectory()) throw new InputMissing(`--model-path ${modelPath} is not a directory`);
    inputs.push(...(await collectDirectory(modelPath)));
  }
  let serializedFile: string | undefined;
  if (options.serializedFile !== undefined) {
    const file = resolve(cwd, options.serializedFile);
    if (!(await stat(file).catch(() => undefined))?.isFile()) throw new InputMissing(`--serialized-file ${file} does not exist`);
    serializedFile = basename(file);
    inputs.push(...(await collectPath(file, 'serialized file')));
  } else {
    // MMS archives name no model file; when the directory holds exactly one ONNX model, that is it.
    const onnx = inputs.filter((f) => f.archivePath.endsWith('.onnx'));
    if (onnx.length === 1) serializedFile = onnx[0]?.archivePath;
  }
  inputs.push(...(await collectExtraFiles(options.extraFiles ?? [], cwd, warn)));

  const handler = await resolveHandlerSpec(options.handler, modelPath, cwd);
  let handlerInput = inputs.find((f) => resolve(f.source) === handler.file);
  if (!handlerInput) {
    handlerInput = { archivePath: basename(handler.file), source: handler.file, size: (await stat(handler.file)).size };
    inputs.push(handlerInput);
  }

  let config: ModelConfig = {};
  let configFile: string | undefined;
  if (options.configFile !== undefined) {
    const file = resolve(cwd, options.configFile);
    config = await readModelConfig(file);
    configFile = basename(file);
    if (!inputs.some((f) => resolve(f.source) === file)) inputs.push({ archivePath: configFile, source: file, size: (await stat(file)).size });
  }

  const byPath = new Map<string, InputFile>();
  for (const input of inputs) {
    if (input.archivePath === MANIFEST_PATH || input.archivePath.startsWith('MAR-INF/') || input.archivePath === BUNDLE_PATH || input.archivePath === BUNDLE_MAP_PATH) {
      throw new InputConflict(`${input.source} would be stored as "${input.archivePath}", which the archiver reserves`);
    }
    const other = byPath.get(input.archivePath);
    if (other && resolve(other.source) !== resolve(input.source)) {
      throw new InputConflict(`${other.source} and ${input.source} would both be stored as "${input.archivePath}"`);
    }
    byPath.set(input.archivePath, input);
  }

  const exportPath = resolve(cwd, options.exportPath ?? '.');
  const target = join(exportPath, OUTPUT_NAMES[format](modelName));
  if (!options.force && (await exists(target))) {
    throw new OutputExists(`${target} already exists; use --force to overwrite it`);
  }

  await typeCheckHandler(handler.file, handler.exportName, cwd);
  const archiveRoot = handler.file.slice(0, handler.file.length - handlerInput.archivePath.length - 1);
  const bundle = await bundleHandler(handler.file, archiveRoot, handler.exportName);

  const items: ArchiveItem[] = [];
  const files: Manifest['files'] = {};
  for (const input of [...byPath.values()].sort((a, b) => a.archivePath.localeCompare(b.archivePath))) {
    const digest = { size: input.size, sha256: await sha256(input.source) };
    files[input.archivePath] = digest;
    items.push({ archivePath: input.archivePath, size: input.size, source: input.source, store: await shouldStore(input.source, input.size) });
  }
  for (const [archivePath, data] of [[BUNDLE_PATH, bundle.code], [BUNDLE_MAP_PATH, bundle.map]] as const) {
    files[archivePath] = { size: data.length, sha256: createHash('sha256').update(data).digest('hex') };
    items.push({ archivePath, size: data.length, data, store: false });
  }

  const manifest = ManifestSchema.parse({
    createdOn: formatCreatedOn(new Date()),
    runtime: 'node',
    archiverVersion: ARCHIVER_VERSION,
    specificationVersion: '1.0',
    model: {
      modelName,
      modelVersion,
      handler: `${basename(handler.file, extname(handler.file))}:${handler.exportName}`,
      ...(serializedFile === undefined ? {} : { serializedFile }),
      ...(configFile === undefined ? {} : { configFile }),
      ...(options.description === undefined ? {} : { description: options.description }),
    },
    entryPoint: { bundle: BUNDLE_PATH, exportName: handler.exportName, source: handlerInput.archivePath },
    config,
    files,
  } satisfies Manifest);
  const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2) + '\n');

  await mkdir(exportPath, { recursive: true });
  // Written beside the target and renamed into place: a failure or a crash never leaves a half archive.
  const temp = join(dirname(target), `.${basename(target)}.${process.pid}.${Date.now()}.tmp`);
  const emit = { items, manifest: manifestBytes, onProgress: options.onProgress };
  try {
    if (format === 'default' || format === 'zip-store') await emitZip(temp, emit, format === 'zip-store');
    else if (format === 'tgz') await emitTgz(temp, modelName, emit);
    else await emitDirectory(temp, emit);
    if (format === 'no-archive' && (await exists(target))) await rm(target, { recursive: true });
    await rename(temp, target);
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw err;
  }
  return { path: target, manifest };
}
