import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createArchive } from '@nodeserve/archiver';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelConflict } from '../../src/errors.js';
import { defaultCacheRoot } from '../../src/models/cache-dir.js';
import { createRunDir } from '../../src/models/run-dir.js';
import { type Engine, json, request, startEngine } from './harness.js';

const SDK_HANDLER = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'sdk-handler.ts');

/** This process's run directory under an extract root. */
async function ownRunDirs(extractRoot: string): Promise<string[]> {
  return (await readdir(extractRoot)).filter((name) => name.startsWith(`${process.pid}-`));
}

describe('directories the engine owns: extractions and caches', () => {
  let engine: Engine;

  beforeAll(async () => {
    engine = await startEngine();
  });

  afterAll(async () => {
    await engine.close();
  });

  it('removes extractions left by servers that no longer run, keeps live ones, and removes its own on shutdown', async () => {
    const root = await mkdtemp(join(tmpdir(), 'nodeserve-runs-'));
    try {
      const deadPid = spawnSync(process.execPath, ['-e', '']).pid;
      const stale = join(root, `${deadPid}-stale1`);
      await mkdir(join(stale, 'model-a', 'archive'), { recursive: true });
      await writeFile(join(stale, 'model-a', 'archive', 'weights.onnx'), 'left behind');
      const live = join(root, `${process.ppid}-live1`);
      await mkdir(live);
      const unrelated = join(root, 'notes');
      await mkdir(unrelated);

      const own = await startEngine({}, undefined, { extractRoot: root });
      expect(existsSync(stale)).toBe(false);
      expect(existsSync(live)).toBe(true);
      expect(existsSync(unrelated)).toBe(true);
      expect(own.logs.some((l) => l.msg.includes(stale))).toBe(true);
      const [runDir] = await ownRunDirs(root);
      expect(runDir).toBeDefined();
      expect((await stat(join(root, runDir!))).mode & 0o777).toBe(0o700);

      const { path } = await createArchive({ modelName: 'swept', version: '1.0', handler: `${SDK_HANDLER}:handle`, exportPath: own.root });
      const model = await own.registry.register({ archive: path, initialWorkers: 1, synchronous: true });
      expect(model.modelDir.startsWith(join(root, runDir!))).toBe(true);
      await own.close();
      expect(await ownRunDirs(root)).toEqual([]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('extracts only into a directory of its own that no one else can write to', async () => {
    const open = join(engine.root, 'open');
    await mkdir(open);
    await chmod(open, 0o777);
    expect(() => createRunDir(open)).toThrow(/only it can write to/);
    const linked = join(engine.root, 'linked');
    await symlink(open, linked);
    expect(() => createRunDir(linked)).toThrow(/only it can write to/);
    expect(await readdir(open)).toEqual([]);
  });

  it('refuses an invalid model name before extracting anything', async () => {
    const missing = join(engine.root, 'no-such-archive.mar');
    await expect(engine.registry.register({ archive: missing, modelName: '../evil' })).rejects.toMatchObject({
      code: 'InvalidModelName', status: 400,
    });
  });

  it('removes the extraction of a duplicate name and version', async () => {
    const { path } = await createArchive({ modelName: 'dup', version: '1.0', handler: `${SDK_HANDLER}:handle`, exportPath: engine.root });
    const first = await engine.registry.register({ archive: path, initialWorkers: 1, synchronous: true });
    const extractRoot = join(engine.root, 'extracted');
    const [runDir] = await ownRunDirs(extractRoot);
    const before = await readdir(join(extractRoot, runDir!));
    await expect(engine.registry.register({ archive: path, synchronous: true })).rejects.toBeInstanceOf(ModelConflict);
    expect(await readdir(join(extractRoot, runDir!))).toEqual(before);
    expect(first.modelDir.startsWith(join(extractRoot, runDir!))).toBe(true);
    await engine.registry.unregister('dup');
  });

  it('gives each model version an owner-only cache directory outside its archive, keyed by name and model digest', async () => {
    const archive = await engine.archive('echo.mjs', { name: 'cached' });
    const model = await engine.registry.register({ archive, initialWorkers: 1, synchronous: true });
    const bundleDigest = createHash('sha256').update(await readFile(join(archive, 'handler.mjs'))).digest('hex');
    const answer = json(await model.submit(request('x')));
    expect(answer['cacheDir']).toBe(join(engine.root, 'cache', `cached-${bundleDigest}`));
    expect(answer['modelDir']).toBe(archive);
    expect((await stat(answer['cacheDir'] as string)).mode & 0o777).toBe(0o700);
  });

  it('puts caches under XDG_CACHE_HOME, else ~/.cache', () => {
    expect(defaultCacheRoot({ XDG_CACHE_HOME: '/var/cache/me' })).toBe('/var/cache/me/nodeserve/models');
    expect(defaultCacheRoot({ XDG_CACHE_HOME: 'relative' })).toBe(join(homedir(), '.cache', 'nodeserve', 'models'));
    expect(defaultCacheRoot({})).toBe(join(homedir(), '.cache', 'nodeserve', 'models'));
  });
});
