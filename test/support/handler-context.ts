/** A model directory and handler context as a worker builds them, for in-process handler tests. */
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Manifest, ModelConfig } from '@nodeserve/archiver';
import { createContext, isTensorResponse, type Context, type Logger, type MetricsRecorder, type RequestInput } from '@nodeserve/handler-sdk';
import { SHARED_IMAGES, SHARED_MODELS } from './imagenet-reference.js';

export { REPO_ROOT, SHARED_IMAGES, SHARED_MODELS } from './imagenet-reference.js';
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

/** The single label of a `{label: probability}` entry of a classifier's answer. */
export function labelOf(entry: Record<string, number>): string {
  return Object.keys(entry)[0]!;
}

/** The top label of one request's answer; a failed request's error is rethrown with what it said. */
export function top1Of(answer: unknown): string {
  if (answer instanceof Error) throw new Error(`the request failed: ${(answer as Error & { code?: string }).code ?? answer.name}: ${answer.message}`);
  if (!Array.isArray(answer) || answer.length === 0) throw new Error(`not a classifier answer: ${JSON.stringify(answer)}`);
  return labelOf(answer[0] as Record<string, number>);
}

/**
 * A classifier's v2 answer (tensors) as one labelled top-k list per image, read from its `classes`
 * output (JSON text per image); fails when the answer is not tensors.
 */
export function classesOf(answer: unknown): Array<Array<Record<string, number>>> {
  if (!isTensorResponse(answer)) throw new Error(`not a tensor answer: ${answer instanceof Error ? answer.message : JSON.stringify(answer)}`);
  const classes = answer.outputs.find((o) => o.name === 'classes');
  if (classes === undefined) throw new Error(`no "classes" output among ${answer.outputs.map((o) => o.name).join(', ')}`);
  const decoder = new TextDecoder();
  return (classes.data as Uint8Array[]).map((item) => JSON.parse(decoder.decode(item)) as Array<Record<string, number>>);
}
