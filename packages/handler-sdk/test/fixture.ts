import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Manifest, ModelConfig } from '@nodeserve/archiver';
import { createContext, type Context, type Logger, type MetricsRecorder, type RequestInput } from '@nodeserve/handler-sdk';

export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const SHARED_MODELS = join(REPO_ROOT, '../shared/models');
export const SHARED_IMAGES = join(REPO_ROOT, '../shared/images');
export const MOBILENET = 'mobilenetv2-12-int8.onnx';

export interface LogEntry {
  level: keyof Logger;
  msg: string;
  fields?: Record<string, unknown>;
}

export interface RecordingContext {
  context: Context;
  logs: LogEntry[];
  observed: Array<{ name: string; value: number }>;
  modelDir: string;
  cleanup(): void;
}

/**
 * A model directory as the server extracts it (the shared model and `extraFiles` linked in) and the
 * context a worker would build for it, with a logger and metrics recorder that keep what they get.
 */
export function modelFixture(options: {
  extraFiles?: string[];
  serializedFile?: string | null;
  config?: ModelConfig;
  gpuId?: number | null;
  /** The server's per-model cache directory, if the test gives one. */
  cacheDir?: string;
  /** The manifest's file digests (none by default). */
  files?: Manifest['files'];
} = {}): RecordingContext {
  const modelDir = mkdtempSync(join(tmpdir(), 'handler-sdk-'));
  for (const file of [MOBILENET, ...(options.extraFiles ?? ['index_to_name.json'])]) symlinkSync(join(SHARED_MODELS, file), join(modelDir, file));
  const logs: LogEntry[] = [];
  const observed: Array<{ name: string; value: number }> = [];
  const log = (level: keyof Logger) => (msg: string, fields?: Record<string, unknown>) => {
    logs.push({ level, msg, fields });
  };
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
  const metrics: MetricsRecorder = {
    increment: (name, value = 1) => observed.push({ name, value }),
    gauge: (name, value) => observed.push({ name, value }),
    observe: (name, value) => observed.push({ name, value }),
  };
  const config = options.config ?? {};
  const manifest: Manifest = {
    createdOn: '25/11/2026 04:00:00',
    runtime: 'node',
    archiverVersion: '0.1.0',
    specificationVersion: '1.0',
    model: {
      modelName: 'mobilenet',
      modelVersion: '1.0',
      handler: 'img_classifier_service:handle',
      ...(options.serializedFile === null ? {} : { serializedFile: options.serializedFile ?? MOBILENET }),
    },
    entryPoint: { bundle: 'handler.mjs', exportName: 'handle', source: 'img_classifier_service.ts' },
    config,
    files: options.files ?? {},
  };
  const context = createContext({
    modelDir, manifest, config, gpuId: options.gpuId ?? null, serverName: 'nodeserve', serverVersion: '0.1.0', logger, metrics,
    ...(options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir }),
  });
  return { context, logs, observed, modelDir, cleanup: () => rmSync(modelDir, { recursive: true, force: true }) };
}

/** A request as the worker hands it over for a raw body. */
export function request(body: Uint8Array, extra: Partial<RequestInput> = {}): RequestInput {
  return { requestId: `r-${Math.random().toString(36).slice(2)}`, body, data: body, form: {}, headers: {}, query: {}, ...extra };
}

export function image(name: string): Buffer {
  return readFileSync(join(SHARED_IMAGES, name));
}

export interface Expected {
  image: string;
  top1: string;
  probability: number;
}

/** The expected top-1 per sample photo, read from the table in `../shared/models/PROVENANCE.md`. */
export function expectedTop1(): Expected[] {
  const text = readFileSync(join(SHARED_MODELS, 'PROVENANCE.md'), 'utf8');
  const rows = [...text.matchAll(/^\| (\S+\.jpe?g) \| [^|]+ \| ([^[|]+)\[\d+\] ([\d.]+),/gm)];
  return rows.map((m) => ({ image: m[1]!, top1: m[2]!.trim(), probability: Number(m[3]) }));
}

/** The single label of a `{label: probability}` entry. */
export function labelOf(entry: Record<string, number>): string {
  return Object.keys(entry)[0]!;
}
