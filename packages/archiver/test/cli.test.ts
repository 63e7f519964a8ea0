import { spawn } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { BUNDLE_PATH, MANIFEST_PATH, extractArchive, inspectArchive } from '../src/index.js';
import { readManifest } from '../src/reader/index.js';
import { Scratch } from './helpers/archives.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const CLI = resolve(here, '../dist/cli.js');
const FIXTURES = join(here, 'fixtures/handler');
const MODEL = resolve(here, '../../../../shared/models/mobilenetv2-12-int8.onnx');
const LABELS = resolve(here, '../../../../shared/models/index_to_name.json');
const SYNSET = resolve(here, '../../../../shared/models/synset.txt');
const EXAMPLE_HANDLER = resolve(here, '../../../examples/resnet50/img_classifier_service.ts');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], cwd: string): Promise<Run> {
  return new Promise((done, fail) => {
    // Each test gets its own type-check cache, so no test is vouched for by another's record.
    const env = { ...process.env, XDG_CACHE_HOME: scratch.path('cache') };
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

let scratch: Scratch;
beforeEach(async () => {
  scratch = await Scratch.create();
});
afterEach(async () => {
  await scratch.remove();
});

/** The seed's layout: a model directory holding the weights and `img_classifier_service.ts`. */
async function seedModelDir(): Promise<string> {
  const dir = scratch.path('work/mxnet_resnet50');
  await mkdir(dir, { recursive: true });
  await copyFile(join(FIXTURES, 'echo.ts'), join(dir, 'img_classifier_service.ts'));
  await copyFile(join(FIXTURES, 'describe.ts'), join(dir, 'describe.ts'));
  await copyFile(MODEL, join(dir, 'mobilenetv2-12-int8.onnx'));
  await copyFile(LABELS, join(dir, 'index_to_name.json'));
  return dir;
}

const SEED_ARGS = ['--model-name', 'mxnet_resnet50', '--model-path', 'mxnet_resnet50', '--handler', 'img_classifier_service:handle', '--export-path', '../model-archives/', '--force'];

describe('model-archiver, MMS style (the seed command)', () => {
  it('archives the model directory and inspect reads it back', async () => {
    await seedModelDir();
    const made = await run(SEED_ARGS, scratch.path('work'));
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    const mar = scratch.path('model-archives/mxnet_resnet50.mar');
    expect(made.stdout).toContain(mar);

    const shown = await run(['inspect', mar], scratch.dir);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/model\s+mxnet_resnet50 1\.0/);
    for (const path of ['img_classifier_service.ts', 'describe.ts', 'mobilenetv2-12-int8.onnx', BUNDLE_PATH, `${BUNDLE_PATH}.map`]) expect(shown.stdout).toContain(path);

    const json = await run(['inspect', '--json', mar], scratch.dir);
    const parsed = JSON.parse(json.stdout) as { format: string; manifest: { model: Record<string, string>; entryPoint: Record<string, string>; createdOn: string }; entries: { path: string; size: number; compressedSize: number }[] };
    expect(parsed.format).toBe('zip');
    expect(parsed.manifest.model).toMatchObject({ modelName: 'mxnet_resnet50', modelVersion: '1.0', handler: 'img_classifier_service:handle', serializedFile: 'mobilenetv2-12-int8.onnx' });
    expect(parsed.manifest.entryPoint).toEqual({ bundle: BUNDLE_PATH, exportName: 'handle', source: 'img_classifier_service.ts' });
    expect(parsed.manifest.createdOn).toMatch(/^\d\d\/\d\d\/\d{4} \d\d:\d\d:\d\d$/);
    const onnx = parsed.entries.find((e) => e.path === 'mobilenetv2-12-int8.onnx');
    expect(onnx?.compressedSize).toBe(onnx?.size);
    const labels = parsed.entries.find((e) => e.path === 'index_to_name.json');
    expect(labels?.compressedSize).toBeLessThan(labels?.size ?? 0);
  });

  it('bundles the handler with its local import into one ESM module that runs', async () => {
    await seedModelDir();
    expect((await run(SEED_ARGS, scratch.path('work'))).code).toBe(0);
    const { dir } = await extractArchive(scratch.path('model-archives/mxnet_resnet50.mar'), scratch.path('extracted'));
    const mod = (await import(join(dir, BUNDLE_PATH))) as { handle: (data: { body: Uint8Array }[], ctx: unknown) => Promise<unknown[]> };
    expect(await mod.handle([{ body: new Uint8Array([7, 8]) }], {})).toEqual([{ length: 2, first: 7 }]);
  });

  it('never overwrites an existing archive without --force', async () => {
    await seedModelDir();
    expect((await run(SEED_ARGS, scratch.path('work'))).code).toBe(0);
    const again = await run(SEED_ARGS.filter((a) => a !== '--force'), scratch.path('work'));
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/^model-archiver: error: .*mxnet_resnet50\.mar already exists/);
  });

  it('archives the real example handler, which imports the SDK, from a folder outside any project', async () => {
    // The scratch folder lies outside the repo: nothing above it or the working directory holds
    // @nodeserve/handler-sdk, so the type check must find the runtime packages the server provides.
    const dir = scratch.path('work/mxnet_resnet50');
    await mkdir(dir, { recursive: true });
    await copyFile(EXAMPLE_HANDLER, join(dir, 'img_classifier_service.ts'));
    await copyFile(MODEL, join(dir, 'mobilenetv2-12-int8.onnx'));
    await copyFile(SYNSET, join(dir, 'synset.txt'));
    const made = await run(SEED_ARGS, scratch.path('work'));
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);

    const mar = scratch.path('model-archives/mxnet_resnet50.mar');
    const shown = await run(['inspect', mar], scratch.dir);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/handler\s+img_classifier_service:handle -> handler\/index\.mjs export handle \(source img_classifier_service\.ts\)/);
    expect(shown.stdout).toMatch(/model file\s+mobilenetv2-12-int8\.onnx/);
    for (const path of ['synset.txt', BUNDLE_PATH]) expect(shown.stdout).toContain(path);
    const bundle = (await extractArchive(mar, scratch.path('extracted'))).dir;
    // The SDK stays external: the server's own copy is what the worker imports.
    expect(await readFile(join(bundle, BUNDLE_PATH), 'utf8')).toMatch(/from ["']@nodeserve\/handler-sdk["']/);
  });
});

describe('model-archiver, TorchServe style', () => {
  const tsArgs = (format: string) => [
    '--model-name', 'resnet-18', '--version', '2.0', '--serialized-file', MODEL, '--extra-files', `${LABELS},${join(FIXTURES, '*.yaml')}`,
    '--handler', `${join(FIXTURES, 'echo.ts')}:handle`, '--config-file', join(FIXTURES, 'model-config.yaml'), '--export-path', 'out', '--archive-format', format,
  ];

  it.each([
    ['tgz', 'resnet-18.tar.gz', 'tgz'],
    ['zip-store', 'resnet-18.mar', 'zip'],
    ['no-archive', 'resnet-18', 'directory'],
  ])('writes --archive-format %s that the reader accepts', async (format, output, readAs) => {
    const made = await run(tsArgs(format), scratch.dir);
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    const { format: detected, manifest, entries } = await inspectArchive(scratch.path(`out/${output}`));
    expect(detected).toBe(readAs);
    // The module name, as TorchServe records it, not the build machine's path to the handler.
    expect(manifest.model).toMatchObject({ modelName: 'resnet-18', modelVersion: '2.0', handler: 'echo:handle', serializedFile: 'mobilenetv2-12-int8.onnx', configFile: 'model-config.yaml' });
    expect(manifest.entryPoint).toEqual({ bundle: BUNDLE_PATH, exportName: 'handle', source: 'echo.ts' });
    expect(manifest.config).toMatchObject({ batchSize: 4, maxBatchDelay: 50, handler: { topk: 5 } });
    expect(entries.map((e) => e.path)).toEqual(expect.arrayContaining([MANIFEST_PATH, 'echo.ts', 'index_to_name.json', 'mobilenetv2-12-int8.onnx', BUNDLE_PATH]));
    if (format === 'zip-store') for (const e of entries) expect(e.compressedSize).toBe(e.size);
    // The manifest alone (what the server reads to apply per-model settings) is the same manifest.
    expect(await readManifest(scratch.path(`out/${output}`))).toEqual(manifest);
  });
});

describe('model-archiver without a model file', () => {
  it('archives the handler alone, as TorchServe allows, and warns once on stderr', async () => {
    const made = await run(['--model-name', 'nomodel', '--handler', `${join(FIXTURES, 'echo.ts')}`, '--export-path', 'out'], scratch.dir);
    expect(made.code).toBe(0);
    expect(made.stderr).toBe('model-archiver: warning: no model file (--serialized-file or --model-path): the archive holds only the handler\n');
    const { manifest } = await inspectArchive(scratch.path('out/nomodel.mar'));
    expect(manifest.model.serializedFile).toBeUndefined();
    // The export was defaulted, and the manifest still says which one.
    expect(manifest.model.handler).toBe('echo:handle');
    expect(Object.keys(manifest.files).sort()).toEqual([BUNDLE_PATH, `${BUNDLE_PATH}.map`, 'echo.ts'].sort());
  });
});

describe('model-archiver refuses bad input and writes nothing', () => {
  async function handlerDir(files: Record<string, string>): Promise<string> {
    const dir = scratch.path('src');
    await mkdir(dir, { recursive: true });
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    return dir;
  }
  const archive = (handler: string, extra: string[] = []) => ['--model-name', 'm', '--serialized-file', MODEL, '--handler', handler, '--export-path', 'out', ...extra];

  async function expectFailure(args: string[], pattern: RegExp): Promise<void> {
    const result = await run(args, scratch.dir);
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(pattern);
    expect(result.stderr.startsWith('model-archiver: ')).toBe(true);
    expect(await readdir(scratch.path('out')).catch(() => [])).toEqual([]);
  }

  it('names the file, line and problem of a syntax error', async () => {
    await handlerDir({ 'h.ts': 'export function handle( {\n' });
    await expectFailure(archive('src/h.ts'), /h\.ts:\d+:\d+/);
  });

  it('names the file, line and problem of a type error', async () => {
    await handlerDir({ 'h.ts': 'export function handle(data: string[]): number[] {\n  return data;\n}\n' });
    await expectFailure(archive('src/h.ts'), /h\.ts:2:3 Type 'string\[\]' is not assignable to type 'number\[\]'/);
  });

  it('checks a handler again once a local import changes, though an earlier check passed and was cached', async () => {
    await handlerDir({
      'h.ts': "import { double } from './helper.ts';\nexport function handle(data: number[]): number[] {\n  return data.map(double);\n}\n",
      'helper.ts': 'export function double(n: number): number {\n  return n * 2;\n}\n',
    });
    const first = await run(archive('src/h.ts'), scratch.dir);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect((await readdir(scratch.path('cache/nodeserve/typecheck'))).filter((f) => f.endsWith('.json'))).toHaveLength(1);
    const archived = await readFile(scratch.path('out/m.mar'));

    await writeFile(scratch.path('src/helper.ts'), 'export function double(n: number): string {\n  return n * 2;\n}\n');
    const second = await run(archive('src/h.ts', ['--force']), scratch.dir);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(/helper\.ts:2:3 Type 'number' is not assignable to type 'string'/);
    // The failed run left the earlier archive as it was.
    expect((await readFile(scratch.path('out/m.mar'))).equals(archived)).toBe(true);
  });

  it('reports a local import that does not exist', async () => {
    await handlerDir({ 'h.ts': "import { x } from './nowhere.js';\nexport const handle = () => x;\n" });
    await expectFailure(archive('src/h.ts'), /nowhere/);
  });

  it('reports a handler without the named export', async () => {
    await handlerDir({ 'h.ts': 'export function predict(): number[] {\n  return [];\n}\n' });
    await expectFailure(archive('src/h.ts'), /HandlerExportMissing: .*h\.ts has no export "handle" \(it exports predict\)/);
  });

  it('reports an export that is neither a function nor an object with a callable handle', async () => {
    await handlerDir({
      'h.ts': 'export const handle = 5;\nexport const service = { handle: "no" };\nexport const good = { handle: (d: unknown[]) => d };\n',
    });
    await expectFailure(archive('src/h.ts'), /^model-archiver: error: HandlerExportNotCallable: src\/h\.ts: export "handle" has type 5; .*function or an object with a callable "handle" member\n$/);
    await expectFailure(archive('src/h.ts:service'), /HandlerExportNotCallable: src\/h\.ts: export "service" has type \{ handle: string; \}/);
    const good = await run(archive('src/h.ts:good'), scratch.dir);
    expect(good.stderr).toBe('');
    expect(good.code).toBe(0);
    expect((await inspectArchive(scratch.path('out/m.mar'))).manifest.model.handler).toBe('h:good');
  });

  it('reports a missing handler, model file and extra file by name', async () => {
    await expectFailure(archive('src/absent.ts'), /absent\.ts does not exist/);
    await expectFailure(['--model-name', 'm', '--serialized-file', 'nope.onnx', '--handler', join(FIXTURES, 'echo.ts'), '--export-path', 'out'], /nope\.onnx does not exist/);
    await expectFailure(archive(join(FIXTURES, 'echo.ts'), ['--extra-files', 'labels-missing.json']), /labels-missing\.json does not exist/);
  });

  it('validates the config file and names the bad key', async () => {
    await handlerDir({ 'bad.yaml': 'batchSize: 0\nbatchSzie: 4\n' });
    await expectFailure(archive(join(FIXTURES, 'echo.ts'), ['--config-file', 'src/bad.yaml']), /ConfigInvalid: .*batchSize/);
    await expectFailure(archive(join(FIXTURES, 'echo.ts'), ['--config-file', 'src/bad.yaml']), /batchSzie/);
  });

  it('refuses a model name outside the allowed pattern', async () => {
    await expectFailure(['--model-name', '-bad/name', '--serialized-file', MODEL, '--handler', join(FIXTURES, 'echo.ts'), '--export-path', 'out'], /--model-name/);
  });

  it('requires --model-name and --handler', async () => {
    await expectFailure(['--serialized-file', MODEL, '--handler', join(FIXTURES, 'echo.ts')], /--model-name/);
    await expectFailure(['--model-name', 'm', '--serialized-file', MODEL], /--handler/);
  });

  it.each([
    ['a missing --model-name', ['--handler', 'h.ts'], /^model-archiver: error: required option --model-name <name> not specified$/],
    ['a bad --archive-format', ['--model-name', 'm', '--handler', 'h.ts', '--archive-format', 'rar'], /^model-archiver: error: option '--archive-format <format>' argument 'rar' is invalid\. Allowed choices are default, zip-store, tgz, no-archive\.$/],
    ['an unknown option', ['--model-nmae', 'm'], /^model-archiver: error: unknown option '--model-nmae' \(Did you mean --model-name\?\)$/],
  ])('answers %s with one error line and a hint, not the whole help', async (_what, args, firstLine) => {
    await expectFailure(args, /^model-archiver: error: /);
    const { stderr } = await run(args, scratch.dir);
    const lines = stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(firstLine);
    expect(lines[1]).toBe('see model-archiver --help');
  });

  it('inspect refuses a tampered archive with one clear line', async () => {
    const bad = join(scratch.dir, 'bad.mar');
    await writeFile(bad, 'not a zip at all');
    const result = await run(['inspect', bad], scratch.dir);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^model-archiver: error: ArchiveUnreadable: .*\n$/);
  });
});
